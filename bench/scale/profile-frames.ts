/** Where a V8 CPU profile's time went: self time per function and per package. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function and per package (or file of ours), ms, largest first. */
export function topFrames(profile: Profile): {
  functions: Array<[string, number]>;
  places: Array<[string, number]>;
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const place = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    if (node === undefined) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|dist-bench)\//, '$1/');
    fn.set(
      `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`,
      (fn.get(`${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`) ?? 0) + dt,
    );
    const pkg =
      url === ''
        ? functionName
        : (/node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url)?.[1] ?? where.split('/').slice(0, 3).join('/'));
    place.set(pkg, (place.get(pkg) ?? 0) + dt);
  });
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { functions: sorted(fn), places: sorted(place) };
}
