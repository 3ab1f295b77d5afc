/*
 * yaml: print a JSON value as a block-style YAML document.
 *
 * The output must read back (with any YAML 1.1 or 1.2 parser) as exactly
 * the JSON it came from, so a string goes out plain only when no parser
 * could take it for anything else; otherwise it is double-quoted. Multi-line
 * strings (console and crash logs) use literal blocks so that they stay
 * readable.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

#define INDENT_STEP 2

static void indent_to(FILE *f, int indent)
{
	fprintf(f, "%*s", indent, "");
}

/* YAML 1.1 reads U+0085, U+2028 and U+2029 as line breaks and a BOM as a
 * stream marker; returns their length at s (n bytes left), or 0. */
static size_t special_unicode(const unsigned char *s, size_t n)
{
	if (n >= 2 && s[0] == 0xC2 && s[1] == 0x85)
		return 2;
	if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0xA8 || s[2] == 0xA9))
		return 3;
	if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		return 3;
	return 0;
}

static bool is_reserved_word(const char *s)
{
	/* What YAML 1.1 resolves to null or a boolean. */
	static const char *const words[] = {"null", "true", "false", "yes", "no",
					    "on",   "off",  "y",     "n"};

	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

/* Could a string that starts with a digit be read as a number (any base,
 * YAML 1.1 or 1.2), a date or a version-like float? "512M" and "1h" cannot. */
static bool numeric_like(const char *s)
{
	if (s[0] == '0' && s[1] && strchr("xXoObB", s[1]))
		return true;
	return strspn(s, "0123456789_.eE+-") == strlen(s);
}

/*
 * Plain only for a conservative alphabet: no indicator characters at all
 * (":", "#", "-" first, quotes, brackets...), no surrounding blanks, and no
 * word or number a parser would resolve to another type.
 */
static bool plain_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	if (n == 0 || s[n - 1] == ' ' || is_reserved_word(s))
		return false;
	if (isdigit(p[0]) ? numeric_like(s) : !isalpha(p[0]) && !strchr("_/", p[0]) && p[0] < 0x80)
		return false;
	for (; *p; p++) {
		if (*p >= 0x80) {
			if (special_unicode(p, n - (size_t)((const char *)p - s)))
				return false;
		} else if (!isalnum(*p) && !strchr(" _./+=,@()-", *p)) {
			return false;
		}
	}
	return true;
}

static void emit_quoted(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	fputc('"', f);
	while (p < end) {
		size_t sp = special_unicode(p, (size_t)(end - p));
		if (sp) {
			/* \N, \L, \P are YAML's own escapes for these. */
			if (p[0] == 0xC2)
				fputs("\\N", f);
			else if (p[0] == 0xEF)
				fputs("\\uFEFF", f);
			else
				fputs(p[2] == 0xA8 ? "\\L" : "\\P", f);
			p += sp;
			continue;
		}
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7F)
				fprintf(f, "\\x%02X", *p);
			else
				fputc(*p, f);
		}
		p++;
	}
	fputc('"', f);
}

/* Literal blocks keep every character as is, so they are for text made of
 * printable lines only; a leading blank or empty line would change how the
 * block's indentation is detected. */
static bool literal_ok(const char *s, size_t len)
{
	if (len == 0 || !memchr(s, '\n', len) || s[0] == ' ' || s[0] == '\n')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\n') || c == 0x7F)
			return false;
		if (c >= 0x80 && special_unicode((const unsigned char *)s + i, len - i))
			return false;
	}
	return true;
}

/* The block header ("|" and its chomping) and the lines at indent. */
static void emit_literal(FILE *f, const char *s, size_t len, int indent)
{
	size_t trailing = 0;

	while (trailing < len && s[len - 1 - trailing] == '\n')
		trailing++;
	/* Chomping: "-" strips the final line break, none keeps one, "+" all. */
	fputs(trailing == 0 ? "|-\n" : trailing == 1 ? "|\n" : "|+\n", f);
	for (size_t start = 0, end; start < len - trailing; start = end + 1) {
		const char *nl = memchr(s + start, '\n', len - trailing - start);
		end = nl ? (size_t)(nl - s) : len - trailing;
		if (end > start) {
			indent_to(f, indent);
			fwrite(s + start, 1, end - start, f);
		}
		fputc('\n', f);
	}
	for (size_t i = 1; i < trailing; i++)
		fputc('\n', f);
}

static void emit_string(FILE *f, const char *s, size_t len)
{
	if (strlen(s) == len && plain_ok(s))
		fputs(s, f);
	else
		emit_quoted(f, s, len);
}

/* The digits of the JSON output, in the form YAML 1.1 also reads as a
 * float: a dot in the mantissa and a signed exponent ("1.0e+100"). */
static void emit_real(FILE *f, const char *s)
{
	size_t mant = strcspn(s, "eE");
	const char *exp = s[mant] ? s + mant + 1 : NULL;

	fprintf(f, "%.*s%s", (int)mant, s, memchr(s, '.', mant) ? "" : ".0");
	if (exp)
		fprintf(f, "e%s%s", *exp == '-' || *exp == '+' ? "" : "+", exp);
}

static void emit_scalar(FILE *f, json_t *j)
{
	char *s;

	switch (json_typeof(j)) {
	case JSON_STRING:
		emit_string(f, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	case JSON_NULL:
		fputs("null", f);
		break;
	default:
		s = json_dumps(j, JSON_ENCODE_ANY);
		if (s)
			emit_real(f, s);
		else
			fputs("null", f);
		free(s);
	}
}

static bool is_collection(json_t *j)
{
	return (json_is_object(j) && json_object_size(j) > 0) ||
	       (json_is_array(j) && json_array_size(j) > 0);
}

static void emit_collection(FILE *f, json_t *j, int indent, bool inline_first);

/* The value after "key:" or "-" (the indicator's column is indent). */
static void emit_value(FILE *f, json_t *v, int indent, bool after_dash)
{
	int inner = indent + INDENT_STEP;

	if (json_is_string(v) && literal_ok(json_string_value(v), json_string_length(v))) {
		fputc(' ', f);
		emit_literal(f, json_string_value(v), json_string_length(v), inner);
	} else if (!is_collection(v)) {
		fputc(' ', f);
		if (json_is_object(v))
			fputs("{}", f);
		else if (json_is_array(v))
			fputs("[]", f);
		else
			emit_scalar(f, v);
		fputc('\n', f);
	} else if (after_dash) {
		/* "- key: v" and "- - v": the first entry shares the dash's line. */
		fputc(' ', f);
		emit_collection(f, v, inner, true);
	} else {
		fputc('\n', f);
		emit_collection(f, v, inner, false);
	}
}

static void emit_collection(FILE *f, json_t *j, int indent, bool inline_first)
{
	bool first = true;

	if (json_is_object(j)) {
		const char *key;
		json_t *v;

		json_object_foreach(j, key, v)
		{
			if (!(first && inline_first))
				indent_to(f, indent);
			emit_string(f, key, strlen(key));
			fputc(':', f);
			emit_value(f, v, indent, false);
			first = false;
		}
	} else {
		size_t i;
		json_t *v;

		json_array_foreach(j, i, v)
		{
			if (!(first && inline_first))
				indent_to(f, indent);
			fputc('-', f);
			emit_value(f, v, indent, true);
			first = false;
		}
	}
}

void cli_yaml_emit(FILE *f, json_t *j)
{
	if (is_collection(j)) {
		emit_collection(f, j, 0, false);
		return;
	}
	if (json_is_object(j))
		fputs("{}\n", f);
	else if (json_is_array(j))
		fputs("[]\n", f);
	else if (json_is_string(j) && literal_ok(json_string_value(j), json_string_length(j)))
		emit_literal(f, json_string_value(j), json_string_length(j), INDENT_STEP);
	else {
		emit_scalar(f, j);
		fputc('\n', f);
	}
}
