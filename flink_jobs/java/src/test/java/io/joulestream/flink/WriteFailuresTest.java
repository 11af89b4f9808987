package io.joulestream.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mongodb.MongoBulkWriteException;
import com.mongodb.MongoCommandException;
import com.mongodb.MongoException;
import com.mongodb.MongoExecutionTimeoutException;
import com.mongodb.MongoNodeIsRecoveringException;
import com.mongodb.MongoNotPrimaryException;
import com.mongodb.MongoSocketException;
import com.mongodb.MongoSocketReadTimeoutException;
import com.mongodb.MongoTimeoutException;
import com.mongodb.MongoWriteException;
import com.mongodb.ServerAddress;
import com.mongodb.WriteError;
import com.mongodb.bulk.BulkWriteError;
import com.mongodb.bulk.BulkWriteResult;
import com.mongodb.bulk.WriteConcernError;
import io.joulestream.flink.WriteFailures.Handling;
import java.util.List;
import java.util.Set;
import org.bson.BsonDocument;
import org.bson.BsonInt32;
import org.bson.BsonString;
import org.bson.codecs.configuration.CodecConfigurationException;
import org.junit.jupiter.api.Test;

class WriteFailuresTest {

    private static final ServerAddress SERVER = new ServerAddress("127.0.0.1", 27017);

    private static BsonDocument reply(int code, String message) {
        return new BsonDocument("ok", new BsonInt32(0))
                .append("code", new BsonInt32(code))
                .append("errmsg", new BsonString(message));
    }

    private static MongoException labelled(String label) {
        MongoException error = new MongoException(91, "shutdown in progress");
        error.addLabel(label);
        return error;
    }

    private static MongoBulkWriteException bulk(
            List<BulkWriteError> errors, WriteConcernError concern) {
        return new MongoBulkWriteException(
                BulkWriteResult.unacknowledged(), errors, concern, SERVER, Set.of());
    }

    @Test
    void networkTimeOutAndFailOverErrorsAreTransient() {
        List<MongoException> errors =
                List.of(
                        new MongoSocketException("connection reset", SERVER),
                        new MongoSocketReadTimeoutException("read timed out", SERVER, null),
                        new MongoTimeoutException("no server selected in 30000 ms"),
                        new MongoExecutionTimeoutException(50, "operation exceeded time limit"),
                        new MongoNotPrimaryException(reply(10107, "not primary"), SERVER),
                        new MongoNodeIsRecoveringException(reply(11602, "interrupted"), SERVER),
                        labelled(MongoException.TRANSIENT_TRANSACTION_ERROR_LABEL),
                        labelled("RetryableWriteError"));
        for (MongoException error : errors) {
            assertTrue(WriteFailures.isTransient(error), error.toString());
            assertEquals(Handling.RETRY, WriteFailures.handling(error), error.toString());
        }
    }

    @Test
    void errorsAboutTheDocumentOrTheCommandArePermanent() {
        List<MongoException> errors =
                List.of(
                        new MongoCommandException(reply(10334, "BSONObj size too large"), SERVER),
                        new MongoWriteException(
                                new WriteError(2, "bad value", new BsonDocument()), SERVER),
                        new MongoException(13, "not authorized"),
                        labelled("NoWritesPerformed"));
        for (MongoException error : errors) {
            assertFalse(WriteFailures.isTransient(error), error.toString());
            assertEquals(Handling.ONE_BY_ONE, WriteFailures.handling(error), error.toString());
        }
    }

    @Test
    void anErrorRaisedBeforeSendingIsPermanent() {
        // The driver refuses a document it cannot encode before anything reaches the server.
        assertEquals(
                Handling.ONE_BY_ONE,
                WriteFailures.handling(new CodecConfigurationException("no codec")));
        assertEquals(
                Handling.ONE_BY_ONE,
                WriteFailures.handling(new IllegalArgumentException("document too large")));
    }

    @Test
    void aBulkWithDocumentErrorsRefusesThoseDocuments() {
        MongoBulkWriteException error =
                bulk(
                        List.of(
                                new BulkWriteError(11000, "E11000 duplicate key", new BsonDocument(), 0),
                                new BulkWriteError(2, "bad value", new BsonDocument(), 3)),
                        null);
        assertEquals(Handling.REFUSED_DOCUMENTS, WriteFailures.handling(error));
    }

    @Test
    void aBulkWithAWriteConcernErrorIsRetried() {
        MongoBulkWriteException error =
                bulk(
                        List.of(),
                        new WriteConcernError(
                                64, "WriteConcernFailed", "waiting for replication timed out",
                                new BsonDocument()));
        assertEquals(Handling.RETRY, WriteFailures.handling(error));
    }

    @Test
    void aDuplicateKeyIsTheExpectedOutcomeOfAReplayNotARefusal() {
        assertFalse(
                WriteFailures.refuses(
                        new BulkWriteError(11000, "E11000 duplicate key", new BsonDocument(), 0)));
        assertTrue(
                WriteFailures.refuses(
                        new BulkWriteError(10334, "BSONObj size too large", new BsonDocument(), 0)));
        assertTrue(WriteFailures.refuses(new BulkWriteError(2, "bad value", new BsonDocument(), 1)));
    }
}
