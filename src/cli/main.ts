// Entry of the lodger bundle: dispatches `__worker`, `__sync-layers`, `__shift-layers` and `__dns-responder` before loading anything else,
// then runs the CLI (cli/app.ts). Not even clipanion loads first: its start-up opens process.stdin, which
// makes fd 0 non-blocking, and a store worker reads its own stdin in 1 MiB pieces (worker/main.ts).
async function main(argv: string[]): Promise<number> {
  if (argv[0] === '__dns-responder') {
    // A user network's name server, started by the network's holder (src/network/dnsServer.ts).
    const { dnsResponderMain } = await import('../network/dnsServer');
    await dnsResponderMain(argv.slice(1));
    return 0;
  }
  if (argv[0] === '__worker') {
    const { workerMain } = await import('../worker/main');
    return workerMain(argv.slice(1));
  }
  if (argv[0] === '__sync-layers') {
    // Started detached by a command that stored layers (storage/layers.ts scheduleLayerSync).
    const [{ syncStoreLayers }, { storePaths }] = await Promise.all([import('../storage/layers'), import('../storage/paths')]);
    await syncStoreLayers(storePaths(argv[1]));
    return 0;
  }
  if (argv[0] === '__healthcheck') {
    // A container's health checker, started with it (containers/health.ts startHealthChecker).
    const [{ healthCheckerMain }, { storePaths }] = await Promise.all([import('../containers/health'), import('../storage/paths')]);
    await healthCheckerMain(storePaths(argv[1]), argv[2]);
    return 0;
  }
  if (argv[0] === '__shift-layers') {
    // Started detached by a keep-id run on fuse-overlayfs (storage/shiftedLayers.ts scheduleShiftedLayers).
    const [{ shiftLayersMain }, { storePaths }, { idMappingForCaller }] = await Promise.all([
      import('../storage/shiftedLayers'), import('../storage/paths'), import('../helper/idmap')]);
    await shiftLayersMain(storePaths(argv[1]), argv.slice(2), idMappingForCaller({ userns: 'keep-id' }));
    return 0;
  }
  const { runCli } = await import('./app');
  return runCli(argv);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`lodger: internal error: ${(e as Error).stack ?? e}\n`); process.exitCode = 125; },
);
