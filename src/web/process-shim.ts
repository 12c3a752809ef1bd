// Injected into the browser bundle as the global `process`: the few Node globals shared code reads (env, stderr).
export const process = {
  env: {} as Record<string, string | undefined>,
  stderr: {
    write(s: string): boolean {
      console.warn(String(s).trimEnd());
      return true;
    },
  },
};
