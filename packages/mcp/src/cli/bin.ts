#!/usr/bin/env node
import { runCli } from './run-cli.js';

// The `tributary` executable: `tributary mcp --config file.json [--http --port N]`. No top-level await: the
// package also ships a CommonJS build.
async function main(): Promise<void> {
  const outcome = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
  if ('exitCode' in outcome) {
    process.exitCode = outcome.exitCode;
    return;
  }
  const stop = (): void => {
    outcome.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A stdio client ends the session by closing stdin.
  if (outcome.url === undefined) process.stdin.once('end', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`tributary: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
