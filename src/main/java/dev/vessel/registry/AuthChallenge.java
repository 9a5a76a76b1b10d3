package dev.vessel.registry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One challenge of a {@code WWW-Authenticate} header (RFC 7235): a scheme ({@code Bearer},
 * {@code Basic}) and its parameters ({@code realm}, {@code service}, {@code scope}). Parameter
 * names are lower-cased; values may be tokens or quoted strings with backslash escapes.
 */
public record AuthChallenge(String scheme, Map<String, String> params) {
    public AuthChallenge {
        params = Map.copyOf(params);
    }

    public String param(String name) {
        return params.get(name);
    }

    public boolean isBearer() {
        return scheme.equalsIgnoreCase("bearer");
    }

    public boolean isBasic() {
        return scheme.equalsIgnoreCase("basic");
    }

    /**
     * Every challenge in one header value; malformed trailing text is ignored (the header is the
     * server's). A token68 after a scheme ({@code Basic dXNlcg==}) is passed over: it belongs to its
     * scheme and is no challenge of its own (a new challenge follows a comma).
     */
    public static List<AuthChallenge> parse(String header) {
        List<AuthChallenge> out = new ArrayList<>();
        if (header == null) {
            return out;
        }
        Parser p = new Parser(header);
        String scheme = null;
        Map<String, String> params = new LinkedHashMap<>();
        boolean commaSinceScheme = false;
        while (true) {
            p.skip(" \t");
            if (p.peek() == ',') {
                p.skip(" \t,");
                commaSinceScheme = true;
            }
            if (p.done()) {
                break;
            }
            String token = p.token();
            if (token.isEmpty()) {
                break; // something that is neither a scheme nor a parameter: stop
            }
            p.skip(" \t");
            if (scheme != null && p.peek() == '=' && !p.isToken68End()) {
                p.next();
                p.skip(" \t");
                String value = p.peek() == '"' ? p.quoted() : p.token();
                params.put(token.toLowerCase(Locale.ROOT), value);
            } else if (scheme != null && !commaSinceScheme && params.isEmpty()) {
                p.skip("="); // the scheme's token68, and its padding
            } else {
                if (scheme != null) {
                    out.add(new AuthChallenge(scheme, params));
                    params = new LinkedHashMap<>();
                }
                scheme = token;
                commaSinceScheme = false;
            }
        }
        if (scheme != null) {
            out.add(new AuthChallenge(scheme, params));
        }
        return out;
    }

    private static final class Parser {
        private final String s;
        private int i;

        Parser(String s) {
            this.s = s;
        }

        boolean done() {
            return i >= s.length();
        }

        char peek() {
            return done() ? '\0' : s.charAt(i);
        }

        void next() {
            i++;
        }

        /** {@code token68} values ({@code Basic abc==}) end in '=' followed by nothing or a comma. */
        boolean isToken68End() {
            int j = i;
            while (j < s.length() && s.charAt(j) == '=') {
                j++;
            }
            while (j < s.length() && (s.charAt(j) == ' ' || s.charAt(j) == '\t')) {
                j++;
            }
            return j >= s.length() || s.charAt(j) == ',';
        }

        void skip(String chars) {
            while (!done() && chars.indexOf(s.charAt(i)) >= 0) {
                i++;
            }
        }

        String token() {
            int start = i;
            while (!done() && " \t,=\"".indexOf(s.charAt(i)) < 0) {
                i++;
            }
            return s.substring(start, i);
        }

        String quoted() {
            StringBuilder sb = new StringBuilder();
            i++; // opening quote
            while (!done()) {
                char c = s.charAt(i++);
                if (c == '"') {
                    break;
                }
                if (c == '\\' && !done()) {
                    c = s.charAt(i++);
                }
                sb.append(c);
            }
            return sb.toString();
        }
    }
}
