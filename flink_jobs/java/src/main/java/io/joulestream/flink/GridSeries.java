package io.joulestream.flink;

import java.util.Arrays;

/**
 * One zone's grid carbon intensity over time, from the {@code grid.intensity} topic: periods
 * sorted by start, each as its source last published it. A plain object with public fields,
 * so that Flink keeps it in broadcast state with its POJO serializer.
 *
 * <p>A record for a period already held replaces it when it was published at the same time or
 * later (a revision, or a replay of the same figure); an older publication is ignored. Periods
 * of different lengths may overlap (a source that moves from hourly to half-hourly figures): a
 * time is priced by the period that contains it with the latest publication, and of those the
 * one that starts last (the finer one).
 */
public final class GridSeries {

    /** The longest period the contract allows (schemas/grid_intensity.avsc): a day. */
    static final long MAX_PERIOD_MS = 86_400_000L;

    /** Sorted by {@code startMs}; at most one period per start. */
    public GridPeriod[] periods = new GridPeriod[0];

    /** One period's figure. */
    public static final class GridPeriod {
        public long startMs;
        public long endMs;
        public double intensityGPerKwh;
        public String source;
        public long publishedAtMs;

        public GridPeriod() {}

        GridPeriod(long startMs, long endMs, double intensityGPerKwh, String source,
                long publishedAtMs) {
            this.startMs = startMs;
            this.endMs = endMs;
            this.intensityGPerKwh = intensityGPerKwh;
            this.source = source;
            this.publishedAtMs = publishedAtMs;
        }

        boolean contains(long tsMs) {
            return startMs <= tsMs && tsMs < endMs;
        }
    }

    /**
     * Takes a period's figure. Returns whether the series changed, so that what it priced is
     * priced again; a figure that is equal to the one held (a replay) changes nothing.
     */
    public boolean put(GridPeriod period) {
        int at = indexOf(period.startMs);
        if (at >= 0) {
            GridPeriod held = periods[at];
            if (period.publishedAtMs < held.publishedAtMs) {
                return false;
            }
            boolean same = held.endMs == period.endMs
                    && Double.compare(held.intensityGPerKwh, period.intensityGPerKwh) == 0
                    && held.source.equals(period.source);
            periods[at] = period;
            return !same;
        }
        int insertAt = -at - 1;
        GridPeriod[] grown = new GridPeriod[periods.length + 1];
        System.arraycopy(periods, 0, grown, 0, insertAt);
        grown[insertAt] = period;
        System.arraycopy(periods, insertAt, grown, insertAt + 1, periods.length - insertAt);
        periods = grown;
        return true;
    }

    /** The period that prices {@code tsMs}, or null when the series has none. */
    public GridPeriod at(long tsMs) {
        int at = indexOf(tsMs);
        int i = at >= 0 ? at : -at - 2;
        GridPeriod best = null;
        // Only periods that start within a day before tsMs can contain it.
        for (; i >= 0 && periods[i].startMs > tsMs - MAX_PERIOD_MS; i--) {
            GridPeriod p = periods[i];
            if (p.contains(tsMs) && (best == null || p.publishedAtMs > best.publishedAtMs)) {
                best = p;
            }
        }
        return best;
    }

    /** Forgets the periods that ended at or before {@code beforeMs}; returns how many. */
    public int expire(long beforeMs) {
        // Sorted by start, not by end: a long early period may outlive a short later one.
        GridPeriod[] kept = Arrays.stream(periods).filter(p -> p.endMs > beforeMs)
                .toArray(GridPeriod[]::new);
        int expired = periods.length - kept.length;
        periods = kept;
        return expired;
    }

    private int indexOf(long startMs) {
        int lo = 0;
        int hi = periods.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            long s = periods[mid].startMs;
            if (s < startMs) {
                lo = mid + 1;
            } else if (s > startMs) {
                hi = mid - 1;
            } else {
                return mid;
            }
        }
        return -(lo + 1);
    }
}
