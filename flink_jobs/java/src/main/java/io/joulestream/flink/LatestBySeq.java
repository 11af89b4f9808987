package io.joulestream.flink;

import org.apache.flink.table.functions.AggregateFunction;

/**
 * {@code LATEST_BY_SEQ(value, seq)}: the non-null value with the highest sequence number (the
 * larger value on a tie). Unlike {@code LAST_VALUE}, which keeps the last to arrive, the result
 * does not depend on the order in which events reach the job, so a replay in another order, or
 * a job with more parallel subtasks, stores the same document.
 */
public final class LatestBySeq extends AggregateFunction<Double, LatestBySeq.Latest> {

    private static final long serialVersionUID = 1L;

    /** The best value so far and its sequence number. */
    public static final class Latest {
        public long seq = Long.MIN_VALUE;
        public Double value;
    }

    @Override
    public Latest createAccumulator() {
        return new Latest();
    }

    public void accumulate(Latest latest, Double value, Long seq) {
        if (value != null && seq != null) {
            offer(latest, value, seq);
        }
    }

    public void merge(Latest latest, Iterable<Latest> others) {
        for (Latest other : others) {
            if (other.value != null) {
                offer(latest, other.value, other.seq);
            }
        }
    }

    private static void offer(Latest latest, double value, long seq) {
        if (latest.value == null
                || seq > latest.seq
                || (seq == latest.seq && Double.compare(value, latest.value) > 0)) {
            latest.seq = seq;
            latest.value = value;
        }
    }

    @Override
    public Double getValue(Latest latest) {
        return latest.value;
    }
}
