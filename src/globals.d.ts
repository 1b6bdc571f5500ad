/** Absolute path of ../shared (fixtures), injected by vitest.config.ts for tests. */
declare const __SHARED_DIR__: string;
