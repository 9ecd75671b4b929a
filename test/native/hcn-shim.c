// A stand-in for computenetwork.dll (the HCN C API) and vmcompute.dll's V1
// HNSCall, with exactly their signatures, so that control/proxiers/kernelspace/
// hcn/koffi.ts runs on Linux through the very koffi declarations it uses on
// Windows (test/unit/kernelspace/koffi.test.ts; built by test/harness/hcn-shim.ts).
//
// It holds just enough behaviour to prove the marshalling: documents kept in
// memory by GUID, handles that are real heap objects, the HRESULTs and error
// records HNS answers with, and every string it hands out allocated here and
// counted, so a test can prove that each was given back to ShimMemFree (the
// CoTaskMemFree of the real DLL) and each handle closed. No JSON parsing: a
// document is "JSON" when it starts with '{', which is all the tests need.
//
// koffi runs .async() calls on worker threads, so every entry point takes the
// one lock.
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// The Windows types at their Windows sizes. WCHAR is UTF-16 (char16_t), not
// Linux's 32-bit wchar_t; HRESULT is a signed 32-bit value.
typedef int32_t HRESULT;
typedef uint16_t WCHAR;
typedef const WCHAR *PCWSTR;
typedef WCHAR *PWSTR;

// guiddef.h's GUID: the text 00112233-4455-6677-8899-aabbccddeeff is
// Data1 0x00112233, Data2 0x4455, Data3 0x6677 (stored little-endian on every
// Windows machine), then Data4 as the eight bytes 88 99 aa bb cc dd ee ff.
typedef struct {
	uint32_t Data1;
	uint16_t Data2;
	uint16_t Data3;
	uint8_t Data4[8];
} GUID;
typedef const GUID *REFGUID;

typedef void *HCN_NETWORK;
typedef void *HCN_ENDPOINT;
typedef void *HCN_LOADBALANCER;
typedef HCN_NETWORK *PHCN_NETWORK;
typedef HCN_ENDPOINT *PHCN_ENDPOINT;
typedef HCN_LOADBALANCER *PHCN_LOADBALANCER;

#define S_OK ((HRESULT)0)
#define E_POINTER ((HRESULT)0x80004003u)
#define E_HANDLE ((HRESULT)0x80070006u)
#define HR_NOT_FOUND ((HRESULT)0x80070490u)      // ERROR_NOT_FOUND
#define HR_ALREADY_EXISTS ((HRESULT)0x800700B7u) // ERROR_ALREADY_EXISTS
#define HCN_E_INVALID_JSON ((HRESULT)0x803B001Bu)

// Settings that contain these make a call answer S_OK with an error record
// (a failure all the same, as hcsshim's checkForErrors reads it), or S_OK
// with an empty record (not a failure, but still a string to free).
#define RECORD_ONLY "\"ShimRecordOnly\""
#define EMPTY_RECORD "\"ShimEmptyRecord\""

#define MAX_DOCS 256
#define MAX_LIVE 1024

enum kind { NETWORK, ENDPOINT, LOADBALANCER };

struct doc {
	int used;
	enum kind kind;
	GUID id;
	GUID network; // an endpoint's network
	WCHAR *json;  // the settings as given (not counted: never handed out)
};

struct handle {
	enum kind kind;
	GUID id;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct doc docs[MAX_DOCS];
static void *live_strings[MAX_LIVE];
static struct handle *live_handles[MAX_LIVE];
static int outstanding;
static int open_handles;
static int bad_frees;
static unsigned assigned;
static char last_guid[33];

// --- strings ---------------------------------------------------------------

struct wbuf {
	WCHAR *p;
	size_t len, cap;
};

static void wbuf_unit(struct wbuf *b, WCHAR c)
{
	if (b->len + 1 >= b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->p = realloc(b->p, b->cap * sizeof(WCHAR));
		if (!b->p)
			abort();
	}
	b->p[b->len++] = c;
	b->p[b->len] = 0;
}

static void wbuf_ascii(struct wbuf *b, const char *s)
{
	while (*s)
		wbuf_unit(b, (WCHAR)(unsigned char)*s++);
}

// Copies UTF-16 code units as they are: a surrogate pair stays a pair.
static void wbuf_wide(struct wbuf *b, PCWSTR s)
{
	while (*s)
		wbuf_unit(b, *s++);
}

static void wbuf_guid(struct wbuf *b, const GUID *g)
{
	char text[37];

	snprintf(text, sizeof(text), "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", (unsigned)g->Data1,
	         (unsigned)g->Data2, (unsigned)g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3],
	         g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
	wbuf_ascii(b, text);
}

// Hands a built string to the caller: it counts as outstanding until ShimMemFree.
static PWSTR hand_out(struct wbuf *b)
{
	if (!b->p) { // the empty string: nothing was appended, so nothing allocated yet
		b->p = calloc(1, sizeof(WCHAR));
		if (!b->p)
			abort();
	}
	for (int i = 0; i < MAX_LIVE; i++) {
		if (!live_strings[i]) {
			live_strings[i] = b->p;
			outstanding++;
			return b->p;
		}
	}
	abort(); // more than MAX_LIVE strings never freed: the test has its answer
}

static PWSTR hand_out_ascii(const char *s)
{
	struct wbuf b = { 0 };

	wbuf_ascii(&b, s);
	return hand_out(&b);
}

static size_t wlen(PCWSTR s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static WCHAR *wdup(PCWSTR s)
{
	size_t n = wlen(s) + 1;
	WCHAR *copy = malloc(n * sizeof(WCHAR));

	if (!copy)
		abort();
	memcpy(copy, s, n * sizeof(WCHAR));
	return copy;
}

static int wequal_ascii(PCWSTR s, const char *ascii)
{
	if (!s)
		return 0;
	while (*s && *ascii && *s == (WCHAR)(unsigned char)*ascii)
		s++, ascii++;
	return *s == 0 && *ascii == 0;
}

static int wcontains_ascii(PCWSTR s, const char *needle)
{
	size_t n = strlen(needle);

	for (; s && *s; s++) {
		size_t i = 0;

		while (i < n && s[i] == (WCHAR)(unsigned char)needle[i])
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

static PCWSTR skip_space(PCWSTR s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	return s;
}

static int json_ish(PCWSTR s)
{
	return s && *skip_space(s) == '{';
}

// A query may be empty (HNS then uses its default); otherwise it is JSON.
static int query_ok(PCWSTR q)
{
	return !q || !*q || json_ish(q);
}

// --- results -----------------------------------------------------------------

// The error record HNS writes beside a failing HRESULT, e.g.
// {"Success":false,"Error":"Element not found.","ErrorCode":2147943568}.
static HRESULT fail(PWSTR *record, HRESULT hr, const char *message)
{
	char text[256];

	if (record) {
		snprintf(text, sizeof(text), "{\"Success\":false,\"Error\":\"%s\",\"ErrorCode\":%u}", message,
		         (unsigned)(uint32_t)hr);
		*record = hand_out_ascii(text);
	}
	return hr;
}

static void remember_guid(REFGUID id)
{
	const uint8_t *bytes = (const uint8_t *)id;

	for (int i = 0; i < 16; i++)
		snprintf(last_guid + 2 * i, 3, "%02x", bytes[i]);
}

static int is_zero_guid(REFGUID id)
{
	static const GUID zero;

	return memcmp(id, &zero, sizeof(zero)) == 0;
}

static struct doc *find_doc(enum kind kind, const GUID *id)
{
	for (int i = 0; i < MAX_DOCS; i++)
		if (docs[i].used && docs[i].kind == kind && memcmp(&docs[i].id, id, sizeof(GUID)) == 0)
			return &docs[i];
	return NULL;
}

static struct handle *open_handle(enum kind kind, const GUID *id)
{
	struct handle *h = malloc(sizeof(*h));

	if (!h)
		abort();
	h->kind = kind;
	h->id = *id;
	for (int i = 0; i < MAX_LIVE; i++) {
		if (!live_handles[i]) {
			live_handles[i] = h;
			open_handles++;
			return h;
		}
	}
	abort();
}

// A handle this library opened and nobody closed, of the kind asked for.
static struct handle *valid_handle(void *p, enum kind kind)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (p && live_handles[i] == p && live_handles[i]->kind == kind)
			return live_handles[i];
	return NULL;
}

// --- the calls, one per kind of object ---------------------------------------

static HRESULT enumerate(enum kind kind, PCWSTR query, PWSTR *ids, PWSTR *record)
{
	struct wbuf b = { 0 };
	int first = 1;

	if (!ids)
		return E_POINTER;
	if (!query_ok(query))
		return fail(record, HCN_E_INVALID_JSON, "Invalid JSON document string.");
	wbuf_ascii(&b, "[");
	for (int i = 0; i < MAX_DOCS; i++) {
		if (!docs[i].used || docs[i].kind != kind)
			continue;
		wbuf_ascii(&b, first ? "\"" : ",\"");
		wbuf_guid(&b, &docs[i].id);
		wbuf_ascii(&b, "\"");
		first = 0;
	}
	wbuf_ascii(&b, "]");
	*ids = hand_out(&b);
	return S_OK;
}

static HRESULT create(enum kind kind, const GUID *network, REFGUID id, PCWSTR settings, void **out, PWSTR *record)
{
	GUID given;
	struct doc *d = NULL;

	if (!out || !id)
		return E_POINTER;
	remember_guid(id);
	given = *id;
	if (!json_ish(settings))
		return fail(record, HCN_E_INVALID_JSON, "Invalid JSON document string.");
	if (wcontains_ascii(settings, RECORD_ONLY))
		return fail(record, S_OK, "The shim answers S_OK with this record.");
	if (is_zero_guid(&given)) {
		// HNS assigns the ID when given the zero GUID, as hcsshim always asks.
		assigned++;
		given = (GUID){ 0xa5000000u | assigned, 0x5348, 0x494d, { 0x80, 0, 0, 0, 0, 0, 0, (uint8_t)assigned } };
	}
	if (find_doc(kind, &given))
		return fail(record, HR_ALREADY_EXISTS, "Cannot create a file when that file already exists.");
	for (int i = 0; i < MAX_DOCS && !d; i++)
		if (!docs[i].used)
			d = &docs[i];
	if (!d)
		abort();
	*d = (struct doc){ .used = 1, .kind = kind, .id = given, .json = wdup(settings) };
	if (network)
		d->network = *network;
	if (record && wcontains_ascii(settings, EMPTY_RECORD))
		*record = hand_out_ascii("");
	*out = open_handle(kind, &given);
	return S_OK;
}

static HRESULT open_doc(enum kind kind, REFGUID id, void **out, PWSTR *record)
{
	if (!out || !id)
		return E_POINTER;
	remember_guid(id);
	if (!find_doc(kind, id))
		return fail(record, HR_NOT_FOUND, "Element not found.");
	*out = open_handle(kind, id);
	return S_OK;
}

// The stored settings with "ID" (and an endpoint's "HostComputeNetwork") put first.
static HRESULT query_doc(enum kind kind, void *handle, PCWSTR query, PWSTR *properties, PWSTR *record)
{
	struct handle *h = valid_handle(handle, kind);
	struct wbuf b = { 0 };
	struct doc *d;
	PCWSTR rest;

	if (!properties)
		return E_POINTER;
	if (!h)
		return fail(record, E_HANDLE, "The handle is invalid.");
	if (!query_ok(query))
		return fail(record, HCN_E_INVALID_JSON, "Invalid JSON document string.");
	d = find_doc(kind, &h->id);
	if (!d)
		return fail(record, HR_NOT_FOUND, "Element not found.");
	wbuf_ascii(&b, "{\"ID\":\"");
	wbuf_guid(&b, &d->id);
	wbuf_ascii(&b, "\"");
	if (kind == ENDPOINT) {
		wbuf_ascii(&b, ",\"HostComputeNetwork\":\"");
		wbuf_guid(&b, &d->network);
		wbuf_ascii(&b, "\"");
	}
	rest = skip_space(skip_space(d->json) + 1); // past the '{'
	if (*rest != '}')
		wbuf_ascii(&b, ",");
	wbuf_wide(&b, rest);
	*properties = hand_out(&b);
	return S_OK;
}

static HRESULT modify_doc(enum kind kind, void *handle, PCWSTR settings, PWSTR *record)
{
	struct handle *h = valid_handle(handle, kind);
	struct doc *d;

	if (!h)
		return fail(record, E_HANDLE, "The handle is invalid.");
	if (!json_ish(settings))
		return fail(record, HCN_E_INVALID_JSON, "Invalid JSON document string.");
	if (wcontains_ascii(settings, RECORD_ONLY))
		return fail(record, S_OK, "The shim answers S_OK with this record.");
	d = find_doc(kind, &h->id);
	if (!d)
		return fail(record, HR_NOT_FOUND, "Element not found.");
	free(d->json);
	d->json = wdup(settings);
	if (record && wcontains_ascii(settings, EMPTY_RECORD))
		*record = hand_out_ascii("");
	return S_OK;
}

static HRESULT delete_doc(enum kind kind, REFGUID id, PWSTR *record)
{
	struct doc *d;

	if (!id)
		return E_POINTER;
	remember_guid(id);
	d = find_doc(kind, id);
	if (!d)
		return fail(record, HR_NOT_FOUND, "Element not found.");
	free(d->json);
	*d = (struct doc){ 0 };
	return S_OK;
}

static HRESULT close_handle(enum kind kind, void *handle)
{
	for (int i = 0; i < MAX_LIVE; i++) {
		if (handle && live_handles[i] == handle && live_handles[i]->kind == kind) {
			free(live_handles[i]);
			live_handles[i] = NULL;
			open_handles--;
			return S_OK;
		}
	}
	return E_HANDLE;
}

// Out-parameters start NULL, so a failing call leaves nothing to free.
static void clear(void **a, PWSTR *b, PWSTR *c)
{
	if (a)
		*a = NULL;
	if (b)
		*b = NULL;
	if (c)
		*c = NULL;
}

#define LOCKED(expr)                         \
	do {                                 \
		HRESULT hr_;                 \
		pthread_mutex_lock(&lock);   \
		hr_ = (expr);                \
		pthread_mutex_unlock(&lock); \
		return hr_;                  \
	} while (0)

// --- computenetwork.dll ------------------------------------------------------

// Not in HcnApi (switchyard never creates networks): the tests seed one with it.
HRESULT HcnCreateNetwork(REFGUID Id, PCWSTR Settings, PHCN_NETWORK Network, PWSTR *ErrorRecord)
{
	clear(Network, ErrorRecord, NULL);
	LOCKED(create(NETWORK, NULL, Id, Settings, Network, ErrorRecord));
}

HRESULT HcnDeleteNetwork(REFGUID Id, PWSTR *ErrorRecord)
{
	clear(NULL, ErrorRecord, NULL);
	LOCKED(delete_doc(NETWORK, Id, ErrorRecord));
}

HRESULT HcnEnumerateNetworks(PCWSTR Query, PWSTR *Networks, PWSTR *ErrorRecord)
{
	clear(NULL, Networks, ErrorRecord);
	LOCKED(enumerate(NETWORK, Query, Networks, ErrorRecord));
}

HRESULT HcnOpenNetwork(REFGUID Id, PHCN_NETWORK Network, PWSTR *ErrorRecord)
{
	clear(Network, ErrorRecord, NULL);
	LOCKED(open_doc(NETWORK, Id, Network, ErrorRecord));
}

HRESULT HcnQueryNetworkProperties(HCN_NETWORK Network, PCWSTR Query, PWSTR *Properties, PWSTR *ErrorRecord)
{
	clear(NULL, Properties, ErrorRecord);
	LOCKED(query_doc(NETWORK, Network, Query, Properties, ErrorRecord));
}

HRESULT HcnCloseNetwork(HCN_NETWORK Network)
{
	LOCKED(close_handle(NETWORK, Network));
}

HRESULT HcnEnumerateEndpoints(PCWSTR Query, PWSTR *Endpoints, PWSTR *ErrorRecord)
{
	clear(NULL, Endpoints, ErrorRecord);
	LOCKED(enumerate(ENDPOINT, Query, Endpoints, ErrorRecord));
}

static HRESULT create_endpoint(HCN_NETWORK Network, REFGUID Id, PCWSTR Settings, PHCN_ENDPOINT Endpoint,
                               PWSTR *ErrorRecord)
{
	struct handle *network = valid_handle(Network, NETWORK);

	if (!network)
		return fail(ErrorRecord, E_HANDLE, "The handle is invalid.");
	return create(ENDPOINT, &network->id, Id, Settings, Endpoint, ErrorRecord);
}

HRESULT HcnCreateEndpoint(HCN_NETWORK Network, REFGUID Id, PCWSTR Settings, PHCN_ENDPOINT Endpoint, PWSTR *ErrorRecord)
{
	clear(Endpoint, ErrorRecord, NULL);
	LOCKED(create_endpoint(Network, Id, Settings, Endpoint, ErrorRecord));
}

HRESULT HcnOpenEndpoint(REFGUID Id, PHCN_ENDPOINT Endpoint, PWSTR *ErrorRecord)
{
	clear(Endpoint, ErrorRecord, NULL);
	LOCKED(open_doc(ENDPOINT, Id, Endpoint, ErrorRecord));
}

HRESULT HcnQueryEndpointProperties(HCN_ENDPOINT Endpoint, PCWSTR Query, PWSTR *Properties, PWSTR *ErrorRecord)
{
	clear(NULL, Properties, ErrorRecord);
	LOCKED(query_doc(ENDPOINT, Endpoint, Query, Properties, ErrorRecord));
}

HRESULT HcnDeleteEndpoint(REFGUID Id, PWSTR *ErrorRecord)
{
	clear(NULL, ErrorRecord, NULL);
	LOCKED(delete_doc(ENDPOINT, Id, ErrorRecord));
}

HRESULT HcnCloseEndpoint(HCN_ENDPOINT Endpoint)
{
	LOCKED(close_handle(ENDPOINT, Endpoint));
}

HRESULT HcnEnumerateLoadBalancers(PCWSTR Query, PWSTR *LoadBalancer, PWSTR *ErrorRecord)
{
	clear(NULL, LoadBalancer, ErrorRecord);
	LOCKED(enumerate(LOADBALANCER, Query, LoadBalancer, ErrorRecord));
}

HRESULT HcnCreateLoadBalancer(REFGUID Id, PCWSTR Settings, PHCN_LOADBALANCER LoadBalancer, PWSTR *ErrorRecord)
{
	clear(LoadBalancer, ErrorRecord, NULL);
	LOCKED(create(LOADBALANCER, NULL, Id, Settings, LoadBalancer, ErrorRecord));
}

HRESULT HcnOpenLoadBalancer(REFGUID Id, PHCN_LOADBALANCER LoadBalancer, PWSTR *ErrorRecord)
{
	clear(LoadBalancer, ErrorRecord, NULL);
	LOCKED(open_doc(LOADBALANCER, Id, LoadBalancer, ErrorRecord));
}

HRESULT HcnQueryLoadBalancerProperties(HCN_LOADBALANCER LoadBalancer, PCWSTR Query, PWSTR *Properties,
                                       PWSTR *ErrorRecord)
{
	clear(NULL, Properties, ErrorRecord);
	LOCKED(query_doc(LOADBALANCER, LoadBalancer, Query, Properties, ErrorRecord));
}

HRESULT HcnModifyLoadBalancer(HCN_LOADBALANCER LoadBalancer, PCWSTR Settings, PWSTR *ErrorRecord)
{
	clear(NULL, ErrorRecord, NULL);
	LOCKED(modify_doc(LOADBALANCER, LoadBalancer, Settings, ErrorRecord));
}

HRESULT HcnDeleteLoadBalancer(REFGUID Id, PWSTR *ErrorRecord)
{
	clear(NULL, ErrorRecord, NULL);
	LOCKED(delete_doc(LOADBALANCER, Id, ErrorRecord));
}

HRESULT HcnCloseLoadBalancer(HCN_LOADBALANCER LoadBalancer)
{
	LOCKED(close_handle(LOADBALANCER, LoadBalancer));
}

// --- vmcompute.dll -------------------------------------------------------------

// V1: {"Success","Error","Output"}. GET /globals/version is the call switchyard
// makes; POST /shim/echo answers the request as Output (the third string
// crosses too); GET /shim/sleep holds its (worker) thread for 100 ms, so a test
// can see the event loop run meanwhile.
HRESULT HNSCall(PCWSTR Method, PCWSTR Path, PCWSTR Request, PWSTR *Response)
{
	struct wbuf b = { 0 };

	if (!Response)
		return E_POINTER;
	*Response = NULL;
	if (wequal_ascii(Method, "GET") && wequal_ascii(Path, "/shim/sleep")) {
		struct timespec ms100 = { 0, 100 * 1000 * 1000 };

		nanosleep(&ms100, NULL);
		wbuf_ascii(&b, "{\"Success\":true}");
	} else if (wequal_ascii(Method, "GET") && wequal_ascii(Path, "/globals/version")) {
		wbuf_ascii(&b, "{\"Success\":true,\"Output\":{\"Major\":15,\"Minor\":5}}");
	} else if (wequal_ascii(Method, "POST") && wequal_ascii(Path, "/shim/echo") && json_ish(Request)) {
		wbuf_ascii(&b, "{\"Success\":true,\"Output\":");
		wbuf_wide(&b, Request);
		wbuf_ascii(&b, "}");
	} else {
		wbuf_ascii(&b, "{\"Success\":false,\"Error\":\"Element not found.\"}");
	}
	pthread_mutex_lock(&lock);
	*Response = hand_out(&b);
	pthread_mutex_unlock(&lock);
	return S_OK;
}

// --- what the tests read -------------------------------------------------------

// CoTaskMemFree's stand-in: frees only what this library handed out; anything
// else (a double free, another allocator's pointer) is counted, not freed.
void ShimMemFree(void *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_LIVE; i++) {
		if (live_strings[i] == p) {
			free(p);
			live_strings[i] = NULL;
			outstanding--;
			pthread_mutex_unlock(&lock);
			return;
		}
	}
	bad_frees++;
	pthread_mutex_unlock(&lock);
}

// Strings handed out and not yet given to ShimMemFree.
int ShimOutstanding(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = outstanding;
	pthread_mutex_unlock(&lock);
	return n;
}

// Handles opened or created and not yet closed.
int ShimOpenHandles(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = open_handles;
	pthread_mutex_unlock(&lock);
	return n;
}

// ShimMemFree calls with a pointer this library did not hand out (or handed out and already took back).
int ShimBadFrees(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = bad_frees;
	pthread_mutex_unlock(&lock);
	return n;
}

// The 16 bytes of the last REFGUID received, in memory order, as hex: how the
// caller laid the GUID out (Data1..Data3 little-endian, as on Windows).
const char *ShimLastGuid(void)
{
	static char copy[33];

	pthread_mutex_lock(&lock);
	memcpy(copy, last_guid, sizeof(copy));
	pthread_mutex_unlock(&lock);
	return copy;
}
