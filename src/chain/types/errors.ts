/**
 * Error classes of the chain data types.
 *
 * @module
 */
import { UserError } from "../../errors.ts";

/**
 * Bytes or values that are not a well-formed Filecoin chain object: malformed or non-canonical
 * CBOR, a wrong tuple length, a wrong field type, a value out of range, an oversized field or
 * list. Peers send these; catching this one class is enough to drop the data and score the
 * sender, and no decoder lets a TypeError or RangeError escape instead.
 */
export class InvalidChainDataError extends UserError {}

/**
 * Blocks that cannot form a tipset together (none at all, different heights or parents, the
 * same block twice, a block without a ticket among several), as Lotus's `NewTipSet` refuses.
 */
export class InvalidTipSetError extends InvalidChainDataError {}
