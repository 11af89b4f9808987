package io.joulestream.flink;

import java.util.function.ToLongFunction;

/**
 * What the guarded sink keeps and writes for one {@code _id}, decided without a server: the
 * version guard of {@code replace-if-newer} and the first-stays rule of {@code insert-once}.
 *
 * @param <R> a row; its version is read only in {@code replace-if-newer} mode
 */
final class VersionGuard<R> {

    /** What to send for a buffered row, given what the collection holds for its {@code _id}. */
    enum Action {
        /** No document yet (or {@code insert-once}, where an existing one makes it a no-op). */
        INSERT,
        /** The stored document is older: the row replaces it. */
        REPLACE,
        /** The stored document is as new or newer: a replay, nothing to write. */
        SKIP
    }

    private final GuardedMongoSink.Mode mode;
    private final ToLongFunction<R> version;

    VersionGuard(GuardedMongoSink.Mode mode, ToLongFunction<R> version) {
        this.mode = mode;
        this.version = version;
    }

    /**
     * Whether an incoming row takes the place of the one buffered for its {@code _id} ({@code
     * buffered} null: none). {@code insert-once} keeps the first; {@code replace-if-newer} the
     * newer, and the later of two equal versions.
     */
    boolean buffers(R buffered, R incoming) {
        if (buffered == null) {
            return true;
        }
        return mode == GuardedMongoSink.Mode.REPLACE_IF_NEWER
                && version.applyAsLong(incoming) >= version.applyAsLong(buffered);
    }

    /**
     * The write for a row. {@code stored}: the collection has a document with the row's {@code
     * _id}; {@code storedVersion}: its version, null where it has none (written before versions
     * existed: the oldest). Both are ignored in {@code insert-once} mode, which always inserts
     * and leaves an existing document as it is (the server answers "duplicate key").
     */
    Action action(R row, boolean stored, Long storedVersion) {
        if (mode == GuardedMongoSink.Mode.INSERT_ONCE) {
            return Action.INSERT;
        }
        long rowVersion = version.applyAsLong(row); // read first: a row without one fails here
        if (!stored) {
            return Action.INSERT;
        }
        return storedVersion == null || storedVersion < rowVersion ? Action.REPLACE : Action.SKIP;
    }
}
