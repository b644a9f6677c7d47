// Import rules for src/: floors, lowest first. A module may import its own floor and the floors below,
// never a floor above, and no import circle anywhere. `npm test` runs this (npm run depcheck).
const FLOORS = [
  ['errors', 'events', 'humanize'],   // src/errors.ts, src/events.ts: the error and event types every floor shares; src/humanize.ts (front doors only, below)
  ['helper', 'config'],               // the helper boundary (plan, spawning the helper and workers, id maps, the addon); config files
  ['worker'],                         // code that runs inside the user namespace for store operations
  ['oci'],                            // OCI image-spec shapes: digests, manifests, configs, layer decoding
  ['storage', 'network', 'cgroups'],  // the store; userspace networks; cgroup v2
  ['image'],                          // references, registries, pull/push, import/load/save
  ['security', 'devices', 'volumes'], // seccomp and capabilities; devices and CDI; named volumes
  ['containers'],                     // container lifecycle: create, start, run, exec, attach, stop, …
  ['system', 'build'],                // reports across domains (info, df); Dockerfile builds
  ['cli', 'api'],                     // the two front doors
];
const rx = (names) => `^src/(${names.join('|')})(/|\\.ts$)`;
const forbidden = [
  { name: 'no-circular', severity: 'error', comment: 'import circles make floors meaningless', from: {}, to: { circular: true } },
  { name: 'not-to-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
  { name: 'no-unknown-floor', severity: 'error', comment: 'every folder of src/ has a floor in .dependency-cruiser.cjs',
    from: { path: '^src/', pathNot: [rx(FLOORS.flat())] }, to: {} },
];
FLOORS.forEach((floor, i) => {
  const above = FLOORS.slice(i + 1).flat();
  if (above.length) forbidden.push({
    name: `floor-${floor.join('-')}`, severity: 'error',
    comment: `${floor.join(', ')} may import only its own floor and those below`,
    from: { path: rx(floor) }, to: { path: rx(above) },
  });
});
// The front doors do not import each other.
// …but for `lodger system service`, the one command whose job is to start the other front door.
forbidden.push({ name: 'front-doors-apart', severity: 'error', from: { path: rx(['cli']), pathNot: '^src/cli/commands/system/service\\.ts$' }, to: { path: rx(['api']) } });
forbidden.push({ name: 'front-doors-apart-2', severity: 'error', from: { path: rx(['api']) }, to: { path: rx(['cli']) } });
// Human texts (sizes, ages, status) are the front doors' to word: domain code returns numbers and dates.
forbidden.push({ name: 'only-front-doors-humanize', severity: 'error', from: { path: '^src/', pathNot: rx(['cli', 'api']) }, to: { path: rx(['humanize']) } });
// Domain code never reaches for the CLI library.
forbidden.push({ name: 'no-clipanion-below-cli', severity: 'error', from: { path: '^src/', pathNot: '^src/cli/' }, to: { path: 'node_modules/clipanion' } });

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
};
