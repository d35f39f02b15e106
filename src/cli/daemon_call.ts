/**
 * Calls to the root's running daemon over its control API, for CLI commands: one client per
 * command, closed afterwards.
 *
 * @module
 */
import { ApiClient } from "../api/api_client.ts";
import type { CommandContext } from "./command.ts";

/** Runs `fn` with a client for the root's daemon, closing it afterwards. */
export async function withClient<T>(
  ctx: CommandContext,
  fn: (client: ApiClient) => Promise<T>,
): Promise<T> {
  const client = await ApiClient.fromRoot(ctx.root, { signal: ctx.signal });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** One call to the daemon. */
export function callDaemon<T>(
  ctx: CommandContext,
  method: string,
  params: unknown[] = [],
): Promise<T> {
  return withClient(ctx, (client) => client.call<T>(method, params, { signal: ctx.signal }));
}
