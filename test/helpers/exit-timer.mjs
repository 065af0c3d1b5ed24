// Preloaded (--import) into the README's example processes by the package test: once the
// process printed its `<name>: stopped` line (node.stop() resolved), prints how long the
// event loop then took to empty. Measured inside the process, so a loaded parent does not count.
const write = process.stdout.write.bind(process.stdout);
let stoppedAt;
process.stdout.write = (chunk, ...rest) => {
  const done = write(chunk, ...rest);
  if (stoppedAt === undefined && /^\S+: stopped$/m.test(String(chunk))) {
    stoppedAt = performance.now();
    process.once('exit', () => write(`exit-after-stop ${(performance.now() - stoppedAt).toFixed(1)}\n`));
  }
  return done;
};
