package io.joulestream.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class LatestBySeqTest {

    private final LatestBySeq function = new LatestBySeq();

    /** One input row of LATEST_BY_SEQ(value, seq). */
    private static final class Row {
        final Double value;
        final Long seq;

        Row(Double value, Long seq) {
            this.value = value;
            this.seq = seq;
        }
    }

    private static Row row(Double value, Long seq) {
        return new Row(value, seq);
    }

    private Double aggregate(List<Row> rows) {
        return function.getValue(accumulator(rows.toArray(new Row[0])));
    }

    private LatestBySeq.Latest accumulator(Row... rows) {
        LatestBySeq.Latest latest = function.createAccumulator();
        for (Row row : rows) {
            function.accumulate(latest, row.value, row.seq);
        }
        return latest;
    }

    @Test
    void keepsTheValueWithTheHighestSeq() {
        assertEquals(0.25, aggregate(List.of(row(0.9, 1L), row(0.25, 3L), row(0.5, 2L))));
    }

    @Test
    void theResultDoesNotDependOnTheOrderOfArrival() {
        List<Row> rows =
                List.of(row(0.9, 1L), row(0.5, 2L), row(0.25, 3L), row(0.75, 3L), row(0.1, -4L));
        for (List<Row> order : permutations(rows)) {
            assertEquals(0.75, aggregate(order));
        }
    }

    @Test
    void aTieOnSeqKeepsTheLargerValue() {
        assertEquals(0.75, aggregate(List.of(row(0.75, 5L), row(0.25, 5L))));
        assertEquals(0.75, aggregate(List.of(row(0.25, 5L), row(0.75, 5L))));
        assertEquals(-0.0, aggregate(List.of(row(-0.0, 5L), row(-1.0, 5L))));
    }

    @Test
    void aTieBetweenZeroesKeepsPositiveZeroWhateverTheOrder() {
        // Double.compare orders -0.0 below 0.0, so the tie is decided, not left to arrival.
        assertEquals("0.0", String.valueOf(aggregate(List.of(row(-0.0, 5L), row(0.0, 5L)))));
        assertEquals("0.0", String.valueOf(aggregate(List.of(row(0.0, 5L), row(-0.0, 5L)))));
    }

    @Test
    void nullValuesAndNullSeqsAreSkipped() {
        assertEquals(
                0.5,
                aggregate(List.of(row(0.5, 2L), row(null, 9L), row(0.8, null), row(null, null))));
    }

    @Test
    void nothingButNullsGivesNull() {
        assertNull(aggregate(List.of()));
        assertNull(aggregate(List.of(row(null, 1L), row(2.0, null))));
    }

    @Test
    void aRowAtTheLowestSeqIsKept() {
        // The empty accumulator's seq is Long.MIN_VALUE: a value at that seq still counts.
        assertEquals(3.0, aggregate(List.of(row(3.0, Long.MIN_VALUE))));
    }

    @Test
    void mergeGivesWhatOneAccumulatorOverAllRowsGives() {
        LatestBySeq.Latest target = accumulator(row(0.9, 1L), row(0.5, 4L));
        function.merge(
                target,
                List.of(
                        accumulator(row(0.25, 6L), row(0.3, 2L)),
                        accumulator(),
                        accumulator(row(0.75, 6L))));
        assertEquals(0.75, function.getValue(target));
        assertEquals(6L, target.seq);
    }

    @Test
    void mergeIntoAnEmptyAccumulatorTakesTheOthersBest() {
        LatestBySeq.Latest target = accumulator();
        function.merge(target, List.of(accumulator(row(0.4, Long.MIN_VALUE))));
        assertEquals(0.4, function.getValue(target));
    }

    @Test
    void mergeKeepsTheTargetWhenItIsNewer() {
        LatestBySeq.Latest target = accumulator(row(0.1, 10L));
        function.merge(target, List.of(accumulator(row(0.9, 9L)), accumulator()));
        assertEquals(0.1, function.getValue(target));
        assertEquals(10L, target.seq);
    }

    @Test
    void mergeOfOnlyEmptyAccumulatorsStaysEmpty() {
        LatestBySeq.Latest target = accumulator();
        function.merge(target, List.of(accumulator(), accumulator()));
        assertNull(function.getValue(target));
    }

    private static List<List<Row>> permutations(List<Row> rows) {
        if (rows.isEmpty()) {
            return List.of(List.of());
        }
        List<List<Row>> result = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            List<Row> rest = new ArrayList<>(rows);
            Row first = rest.remove(i);
            for (List<Row> tail : permutations(rest)) {
                List<Row> order = new ArrayList<>(Collections.singletonList(first));
                order.addAll(tail);
                result.add(order);
            }
        }
        return result;
    }
}
