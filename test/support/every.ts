// A test's background loop: `tick` runs, then waits `intervalMs`, until stopped. A failing tick is the next tick's
// business (what it read may have been deleted meanwhile): it is dropped, not thrown. `stop` resolves once the tick
// in progress, if any, has finished, so nothing it does outlives the test.
export interface Every {
  stop(): Promise<void>;
}

export function every(intervalMs: number, tick: () => Promise<unknown>): Every {
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      if (stopped) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, intervalMs);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = undefined;
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
