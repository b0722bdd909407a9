// Which notification links may be followed: exactly what the server's
// notifications/validators.py::validate_link accepts, so that a row written
// around the validators (QuerySet.update(), raw SQL, an old import) is shown
// but never becomes a link. Every renderer (toast, inbox, history, lists)
// calls safeHref() and nothing else.

// Python's str.isspace() characters (what value.strip() removes), not JS's
// trim() set: they differ on U+0085 and U+FEFF.
const PY_SPACE = "\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680"
  + "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
  + "\u2028\u2029\u202f\u205f\u3000";
// ord(c) < 32 or ord(c) == 127, as the validator checks.
const CONTROL = /[\u0000-\u001f\u007f]/;
// validate_text(): a lone surrogate (no database stores one).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Return `url` if it may become an href, else null.
 *
 * Accepted: "http://" or "https://" (any case) followed by at least one
 * character, or a path starting with a single "/". Refused: empty values,
 * non-strings, lone surrogates, leading or trailing whitespace, control
 * characters anywhere (TAB, CR and LF included: browsers strip them, so "/\t/evil.example/"
 * would become "//evil.example/"), backslashes, "//host" and every other scheme.
 */
export function safeHref(url) {
  if (typeof url !== "string" || url === "") return null;
  if (PY_SPACE.includes(url[0]) || PY_SPACE.includes(url[url.length - 1])) return null;
  if (CONTROL.test(url) || LONE_SURROGATE.test(url) || url.includes("\\")) return null;
  const lowered = url.toLowerCase();
  // len() in Python counts code points, not UTF-16 units.
  const length = [...url].length;
  const absolute = ["http://", "https://"].some(
    (scheme) => lowered.startsWith(scheme) && length > scheme.length,
  );
  const relative = url.startsWith("/") && !url.startsWith("//");
  return absolute || relative ? url : null;
}
