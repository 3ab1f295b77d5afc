/*
 * status: the one place where a client-facing error code becomes an HTTP
 * status, and where an error becomes the JSON body every client parses.
 */
#include <string.h>

#include "api/api.h"

/* clang-format off */
static const struct {
	const char *code;
	int status;
} code_status[] = {
	{"invalid", 400},    {"not_found", 404},   {"method_not_allowed", 405},
	{"conflict", 409},   {"too_large", 413},   {"unavailable", 503},
	{"timeout", 504},    {"no_capacity", 507}, {"internal", 500},
	{"unauthorized", 401},
};
/* clang-format on */

int api_status_from_code(const char *code)
{
	for (size_t i = 0; code && i < ARRAY_SIZE(code_status); i++)
		if (strcmp(code, code_status[i].code) == 0)
			return code_status[i].status;
	/* An unknown code is a bug somewhere below us: never guess 4xx. */
	return 500;
}

/* evhttp knows no phrase for 507 and an old one for 413, so name them all. */
static const struct {
	int status;
	const char *reason;
} reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {409, "Conflict"},
    {413, "Payload Too Large"},
    {500, "Internal Server Error"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {507, "Insufficient Storage"},
};

const char *api_status_reason(int status)
{
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return NULL;
}

/*
 * A JSON string from a fixed-size werr field: bounded by the array (the
 * field may lack its NUL if someone filled it by hand) and with invalid
 * UTF-8 (a file name, a guest's output) replaced so that the error itself
 * can always be sent.
 */
static json_t *json_string_lossy(const char *s, size_t max)
{
	size_t len = strnlen(s, max);
	json_t *j = json_stringn(s, len);
	_cleanup_free_ char *copy = NULL;

	if (j)
		return j;
	copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < len; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	copy[len] = '\0';
	return json_string(copy);
}

json_t *api_error_json(const struct werr *e)
{
	json_t *inner = json_object();

	if (!inner)
		return NULL;
	if (json_object_set_new(inner, "code", json_string_lossy(e->code, sizeof(e->code))) < 0 ||
	    json_object_set_new(inner, "message",
				json_string_lossy(e->message, sizeof(e->message))) < 0 ||
	    json_object_set_new(inner, "field", json_string_lossy(e->field, sizeof(e->field))) <
		0) {
		json_decref(inner);
		return NULL;
	}
	return json_pack("{s:o}", "error", inner);
}
