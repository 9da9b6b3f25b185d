/*
 * api: a small JSON API, the shape most HTTP functions have. It routes on
 * the method and the path below /invoke/api, reads a query parameter and a
 * header, and answers JSON with its own Content-Type:
 *
 *   GET    /invoke/api/users/7           {"id":7,"name":"user-7"}
 *   GET    /invoke/api/users?limit=3     the first 3 users
 *   POST   /invoke/api/users             201, echoes the JSON body it was sent
 *   DELETE /invoke/api/users/7           204
 *   OPTIONS any path                     204 with Allow
 *   anything else                        404 or 405 as JSON
 *
 * X-Request-Id from the client (or the node) comes back as X-Seen-Request-Id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sure.h>

#define MAX_USERS 100

static int json_error(sure_req *req, int status, const char *message)
{
	sure_set_status(req, status);
	sure_set_header(req, "Content-Type", "application/json");
	sure_printf(req, "{\"error\":\"%s\"}\n", message);
	return 0;
}

static int get_user(sure_req *req, const char *id)
{
	char *end;
	long n = strtol(id, &end, 10);

	if (*id == 0 || *end != 0 || n < 1 || n > MAX_USERS)
		return json_error(req, 404, "no such user");
	sure_set_header(req, "Content-Type", "application/json");
	sure_printf(req, "{\"id\":%ld,\"name\":\"user-%ld\"}\n", n, n);
	return 0;
}

static int list_users(sure_req *req)
{
	char buf[16];
	long limit = 10;

	if (sure_query_param(req, "limit", buf, sizeof(buf)) >= 0)
		limit = strtol(buf, NULL, 10);
	if (limit < 0 || limit > MAX_USERS)
		return json_error(req, 400, "limit must be 0..100");
	sure_set_header(req, "Content-Type", "application/json");
	sure_write(req, "[", 1);
	for (long i = 1; i <= limit; i++)
		sure_printf(req, "%s{\"id\":%ld,\"name\":\"user-%ld\"}", i > 1 ? "," : "", i, i);
	sure_write(req, "]\n", 2);
	return 0;
}

static int create_user(sure_req *req)
{
	const char *type = sure_header(req, "content-type");

	if (!type || strncmp(type, "application/json", 16) != 0)
		return json_error(req, 415, "send application/json");
	sure_set_status(req, 201);
	sure_set_header(req, "Content-Type", "application/json");
	sure_set_header(req, "Location", "/invoke/api/users/101");
	sure_write(req, req->body, req->len);
	return 0;
}

int handle(sure_req *req)
{
	const char *method = sure_req_method(req), *path = sure_req_path(req);
	const char *rid = sure_header(req, "x-request-id");

	if (rid)
		sure_set_header(req, "X-Seen-Request-Id", rid);
	if (strcmp(method, "OPTIONS") == 0) {
		sure_set_status(req, 204);
		sure_set_header(req, "Allow", "GET, POST, DELETE, OPTIONS");
		return 0;
	}
	if (strcmp(path, "/users") == 0) {
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			return list_users(req);
		if (strcmp(method, "POST") == 0)
			return create_user(req);
		return json_error(req, 405, "use GET or POST on /users");
	}
	if (strncmp(path, "/users/", 7) == 0) {
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			return get_user(req, path + 7);
		if (strcmp(method, "DELETE") == 0) {
			sure_set_status(req, 204);
			return 0;
		}
		return json_error(req, 405, "use GET or DELETE on /users/{id}");
	}
	return json_error(req, 404, "no such route");
}
