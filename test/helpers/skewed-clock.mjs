// Test-only preload (`node --import`): shifts this process's wall clock
// (`Date.now`) by MESHCACHE_TEST_CLOCK_SKEW_MS milliseconds, to play a node
// whose clock runs ahead (positive) or behind (negative). Used by
// test/dht-clock-skew.test.ts through NodeProcess.spawn({ imports, env }).
const skew = Number(process.env.MESHCACHE_TEST_CLOCK_SKEW_MS ?? 0);
if (Number.isFinite(skew) && skew !== 0) {
  const realNow = Date.now;
  Date.now = () => realNow() + skew;
}
