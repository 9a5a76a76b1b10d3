package dev.vessel.cli;

import java.util.List;

/** Signal names and numbers as docker kill -s takes them (x86-64 Linux numbering). */
final class SignalNames {
    private SignalNames() {}

    private static final List<String> NAMES = List.of("", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE",
            "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN",
            "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS");

    /** "KILL", "SIGKILL", "9" -> 9. */
    static int parse(String s) throws UserError {
        String u = s.strip().toUpperCase(java.util.Locale.ROOT);
        if (u.startsWith("SIG")) {
            u = u.substring(3);
        }
        if (u.matches("[0-9]{1,2}")) {
            int n = Integer.parseInt(u);
            if (n >= 1 && n <= 64) {
                return n;
            }
        }
        int i = NAMES.indexOf(u);
        if (i > 0) {
            return i;
        }
        throw new UserError("invalid signal: " + s, 125);
    }
}
