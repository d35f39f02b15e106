/**
 * What a Filecoin protocol needs of the libp2p host: a components-style slice, as js-libp2p
 * services take (`packages/protocol-ping`), so that protocols depend on `@libp2p/interface` and
 * not on the network system that assembles the host. Tests hand in a fake with just these.
 *
 * @module
 */
import type { Libp2p } from "@libp2p/interface";

/** Register and unregister stream handlers for a protocol ID. */
export type ProtocolRegistrar = Pick<Libp2p, "handle" | "unhandle">;

/** Open connections (a protocol opens its streams on the peer's existing connection). */
export type ProtocolConnections = Pick<Libp2p, "getConnections">;

/** Connection lifecycle events (Hello greets on open and forgets on disconnect). */
export type ConnectionEvents = Pick<Libp2p, "addEventListener" | "removeEventListener">;
