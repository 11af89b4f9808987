package io.joulestream.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.bson.BsonDocument;
import org.bson.BsonString;
import org.junit.jupiter.api.Test;

/** The parts of the sink that need no server: its options, its dead letters, its services. */
class GuardedMongoSinkTest {

    @Test
    void writeModesAreReadFromTheirOptionText() {
        assertEquals(
                GuardedMongoSink.Mode.REPLACE_IF_NEWER,
                GuardedMongoSink.Mode.parse("replace-if-newer"));
        assertEquals(GuardedMongoSink.Mode.INSERT_ONCE, GuardedMongoSink.Mode.parse("insert-once"));
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> GuardedMongoSink.Mode.parse("upsert"));
        assertEquals(
                "write-mode must be replace-if-newer or insert-once, got 'upsert'",
                error.getMessage());
    }

    @Test
    void aRefusedDocumentBecomesADeadLetterKeyedByCollectionAndId() {
        BsonDocument letter = GuardedMongoWriter.deadLetter("runs", "run-1", "2 bad value");
        letter.remove("received_at");
        assertEquals(
                new BsonDocument("_id", new BsonString("sink/runs/run-1"))
                        .append(
                                "reason",
                                new BsonString(
                                        "the MongoDB server refused the runs document: 2 bad value"))
                        .append("collection", new BsonString("runs"))
                        .append("document_id", new BsonString("run-1")),
                letter);
    }

    @Test
    void aDeadLettersIdAndReasonAreCut() {
        BsonDocument letter =
                GuardedMongoWriter.deadLetter("windows", "i".repeat(300), "r".repeat(1200));
        assertEquals("sink/windows/" + "i".repeat(256), letter.getString("_id").getValue());
        assertEquals("i".repeat(256), letter.getString("document_id").getValue());
        assertEquals(
                "the MongoDB server refused the windows document: " + "r".repeat(1000),
                letter.getString("reason").getValue());
    }

    @Test
    void flinkFindsTheFormatAndTheConnectorByTheirNames() {
        // As the planner looks them up: through META-INF/services on the class path.
        ClassLoader loader = GuardedMongoSinkTest.class.getClassLoader();
        assertEquals(
                DeadLetterFormatFactory.class,
                FactoryUtil.discoverFactory(
                                loader, DeserializationFormatFactory.class, "joulestream-avro")
                        .getClass());
        assertEquals(
                GuardedMongoSinkFactory.class,
                FactoryUtil.discoverFactory(
                                loader, DynamicTableSinkFactory.class, "joulestream-mongodb")
                        .getClass());
    }

    @Test
    void theSinkUsesNoClassOfTheMongoDbConnector() throws IOException {
        // The connector is on the class path for its driver only; its classes are internal.
        List<String> users;
        try (Stream<Path> sources = Files.walk(Path.of("src", "main", "java"))) {
            users =
                    sources.filter(p -> p.toString().endsWith(".java"))
                            .filter(
                                    p -> {
                                        try {
                                            return Files.readString(p)
                                                    .contains("org.apache.flink.connector.mongodb");
                                        } catch (IOException e) {
                                            throw new java.io.UncheckedIOException(e);
                                        }
                                    })
                            .map(p -> p.getFileName().toString())
                            .collect(Collectors.toList());
        }
        assertEquals(List.of(), users);
    }
}
