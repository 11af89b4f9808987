package io.joulestream.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.joulestream.flink.GuardedMongoSink.Mode;
import io.joulestream.flink.VersionGuard.Action;
import org.junit.jupiter.api.Test;

class VersionGuardTest {

    /** A row is its version here. */
    private final VersionGuard<Long> replace = new VersionGuard<>(Mode.REPLACE_IF_NEWER, v -> v);

    /** Insert-once never reads a version: a row without one must not fail. */
    private final VersionGuard<Long> insertOnce =
            new VersionGuard<>(
                    Mode.INSERT_ONCE,
                    v -> {
                        throw new AssertionError("insert-once read a version");
                    });

    @Test
    void replaceIfNewerBuffersTheFirstRowOfAnId() {
        assertTrue(replace.buffers(null, 3L));
    }

    @Test
    void replaceIfNewerBuffersANewerOrEqualVersionOnly() {
        assertTrue(replace.buffers(3L, 4L));
        assertTrue(replace.buffers(3L, 3L)); // the later of two equal versions
        assertFalse(replace.buffers(3L, 2L));
    }

    @Test
    void replaceIfNewerInsertsWhereNothingIsStored() {
        assertEquals(Action.INSERT, replace.action(5L, false, null));
    }

    @Test
    void replaceIfNewerReplacesAnOlderStoredVersion() {
        assertEquals(Action.REPLACE, replace.action(5L, true, 4L));
        assertEquals(Action.REPLACE, replace.action(5L, true, Long.MIN_VALUE));
    }

    @Test
    void replaceIfNewerKeepsAnEqualStoredVersion() {
        assertEquals(Action.SKIP, replace.action(5L, true, 5L));
    }

    @Test
    void replaceIfNewerKeepsANewerStoredVersion() {
        // A replay after a restore: the stored document is ahead of the replayed row.
        assertEquals(Action.SKIP, replace.action(5L, true, 6L));
    }

    @Test
    void aStoredDocumentWithoutAVersionCountsAsTheOldest() {
        assertEquals(Action.REPLACE, replace.action(0L, true, null));
        assertEquals(Action.REPLACE, replace.action(Long.MIN_VALUE, true, null));
    }

    @Test
    void replaceIfNewerReadsTheRowsVersionEvenWhereNothingIsStored() {
        VersionGuard<Long> guard =
                new VersionGuard<>(
                        Mode.REPLACE_IF_NEWER,
                        v -> {
                            throw new IllegalStateException("row without version: " + v);
                        });
        IllegalStateException error =
                assertThrows(IllegalStateException.class, () -> guard.action(1L, false, null));
        assertEquals("row without version: 1", error.getMessage());
    }

    @Test
    void insertOnceKeepsTheFirstRowBuffered() {
        assertTrue(insertOnce.buffers(null, 1L));
        assertFalse(insertOnce.buffers(1L, 2L));
        assertFalse(insertOnce.buffers(2L, 1L));
    }

    @Test
    void insertOnceAlwaysInsertsAndLetsTheStoredDocumentWin() {
        assertEquals(Action.INSERT, insertOnce.action(1L, false, null));
        assertEquals(Action.INSERT, insertOnce.action(1L, true, 9L));
        assertEquals(Action.INSERT, insertOnce.action(9L, true, 1L));
    }
}
