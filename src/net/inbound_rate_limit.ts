/**
 * A shim over libp2p's inbound connection rate limiter (see {@link spareFromInboundRateLimit}).
 *
 * @module
 */

/**
 * libp2p 2.10 refuses a sixth inbound connection per second from one IP (its
 * `inboundConnectionThreshold`) before any handshake. Every peer of a local devnet, and peers
 * behind one NAT, share an IP, so a devnet of ten nodes started together loses some of them at
 * the bootnode (measured). go-libp2p's resource manager exempts loopback from its per-IP limit;
 * we spare what the ban list spares (loopback and `Network.BanAllowlist`). The global cap on
 * pending inbound handshakes and `maxConnections` still apply to them.
 *
 * The limiter is a private field of the connection manager: guarded, so an upgrade that moves
 * it only loses the exemption (and the e2e network test notices).
 */
export function spareFromInboundRateLimit(
  libp2p: object,
  spared: (ip: string) => boolean,
): void {
  // deno-lint-ignore no-explicit-any
  const limiter = (libp2p as any).components?.connectionManager?.inboundConnectionRateLimiter;
  if (typeof limiter?.consume !== "function") return;
  const consume = limiter.consume.bind(limiter);
  limiter.consume = (key: string, points?: number, options?: unknown) =>
    spared(key)
      ? Promise.resolve({ remainingPoints: 1, msBeforeNext: 0, consumedPoints: 0 })
      : consume(key, points, options);
}
