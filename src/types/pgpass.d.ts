// The pgpass module (libpq's ~/.pgpass lookup, as pg uses it) ships no types.
declare module 'pgpass' {
  function pgPass(connInfo: { host: string; port: number; database: string; user: string }, cb: (password: string | undefined) => void): void;
  export default pgPass;
}
