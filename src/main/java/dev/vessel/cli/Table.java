package dev.vessel.cli;

import java.util.List;

/**
 * Docker's tables ({@code ps}, {@code images}, {@code network ls}): its CLI writes them through a
 * tabwriter with minimum width 10 and padding 3, so every column but the last is as wide as its
 * widest cell plus three spaces, and at least 10; the last column is not padded. Widths count
 * code points (docker's writer counts terminal cells, the same for all but wide and combining
 * characters).
 */
final class Table {
    private Table() {}

    static final int MIN_WIDTH = 10;
    static final int PADDING = 3;

    /** The rows (the header first), one line each. */
    static String format(List<List<String>> rows) {
        int columns = rows.stream().mapToInt(List::size).max().orElse(0);
        int[] width = new int[columns];
        for (List<String> row : rows) {
            for (int c = 0; c < row.size() - 1; c++) {
                width[c] = Math.max(width[c], Math.max(MIN_WIDTH, length(row.get(c)) + PADDING));
            }
        }
        StringBuilder out = new StringBuilder();
        for (List<String> row : rows) {
            for (int c = 0; c < row.size(); c++) {
                out.append(row.get(c));
                if (c < row.size() - 1) {
                    out.append(" ".repeat(width[c] - length(row.get(c))));
                }
            }
            out.append('\n');
        }
        return out.toString();
    }

    private static int length(String s) {
        return s.codePointCount(0, s.length());
    }
}
