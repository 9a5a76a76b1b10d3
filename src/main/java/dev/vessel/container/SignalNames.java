package dev.vessel.container;

import java.util.List;
import java.util.Locale;

/** Signal names and numbers as docker kill takes them (x86-64 Linux numbering). */
public final class SignalNames {
    private SignalNames() {}

    private static final List<String> NAMES = List.of("", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE",
            "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN",
            "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS");

    /** "KILL", "SIGKILL", "9" -> 9. */
    public static int parse(String s) throws ContainerException {
        String u = s.strip().toUpperCase(Locale.ROOT);
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
        throw ContainerException.invalid("invalid signal: " + s);
    }
}
