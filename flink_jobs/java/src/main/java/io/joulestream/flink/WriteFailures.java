package io.joulestream.flink;

import com.mongodb.MongoBulkWriteException;
import com.mongodb.MongoException;
import com.mongodb.MongoExecutionTimeoutException;
import com.mongodb.MongoNodeIsRecoveringException;
import com.mongodb.MongoNotPrimaryException;
import com.mongodb.MongoSocketException;
import com.mongodb.MongoTimeoutException;
import com.mongodb.bulk.BulkWriteError;

/**
 * How the guarded sink answers a failed write, decided from the error alone: only what may
 * succeed when tried again is retried; a document the server refuses for its content is kept
 * aside, never retried and never allowed to stop the job.
 */
final class WriteFailures {

    /** The server's code for "a document with this {@code _id} exists". */
    static final int DUPLICATE_KEY = 11000;

    enum Handling {
        /** Transient (network, time-out, a primary stepping down): write the bulk again. */
        RETRY,
        /**
         * The server wrote the bulk but refused some documents, each with its own error: those
         * go to {@code dead_letters} (see {@link #refuses}).
         */
        REFUSED_DOCUMENTS,
        /**
         * The bulk as a whole was refused for good (by the server, or by the driver before
         * sending: too large, a value BSON cannot hold): each document is written alone, so that
         * only the culprits are refused.
         */
        ONE_BY_ONE
    }

    private WriteFailures() {}

    static Handling handling(RuntimeException error) {
        if (error instanceof MongoBulkWriteException) {
            // A write concern error says nothing about the documents: they may not be durable.
            return ((MongoBulkWriteException) error).getWriteConcernError() == null
                    ? Handling.REFUSED_DOCUMENTS
                    : Handling.RETRY;
        }
        if (error instanceof MongoException) {
            return isTransient((MongoException) error) ? Handling.RETRY : Handling.ONE_BY_ONE;
        }
        return Handling.ONE_BY_ONE;
    }

    /**
     * Whether a document's write error refuses it. A duplicate key does not: in {@code
     * insert-once} mode the document exists, which is the outcome a replay expects.
     */
    static boolean refuses(BulkWriteError error) {
        return error.getCode() != DUPLICATE_KEY;
    }

    static boolean isTransient(MongoException error) {
        return error instanceof MongoSocketException
                || error instanceof MongoTimeoutException
                || error instanceof MongoExecutionTimeoutException
                || error instanceof MongoNotPrimaryException
                || error instanceof MongoNodeIsRecoveringException
                || error.hasErrorLabel(MongoException.TRANSIENT_TRANSACTION_ERROR_LABEL)
                || error.hasErrorLabel("RetryableWriteError");
    }
}
