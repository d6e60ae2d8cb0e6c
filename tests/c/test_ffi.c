/*
 * The C ABI from C: the whole scenario against the loopback emulator, every error path, and
 * the stdcall twins. Built with -Wall -Wextra -Werror -Wpedantic against
 * include/inventory_sync.h and the cdylib (feature "emulator", --cfg invsync_std_twins), and
 * run under AddressSanitizer + UndefinedBehaviorSanitizer by .ci/ffi.sh.
 *
 * Prints "N passed, N failed" last and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#define INVSYNC_EMULATOR 1
#include "inventory_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The stdcall twins are not in the header (it declares the C convention only); on x86-64
 * Linux "system" is the C convention, so they are declared here as plain functions. */
typedef int32_t (*invsync_progress_std_fn)(void *user, int32_t done, int32_t total);
int32_t invsync_abi_version_std(void);
int32_t invsync_last_error_std(char *buf, int32_t len, int32_t *needed);
int32_t invsync_store_open_std(const char *path, invsync_store **out);
void invsync_store_close_std(invsync_store *store);
int32_t invsync_param_set_std(invsync_store *store, const char *name, const char *value);
int32_t invsync_param_get_std(invsync_store *store, const char *name, char *buf, int32_t len,
                              int32_t *needed);
int32_t invsync_item_upsert_std(invsync_store *store, const char *item_json);
int32_t invsync_adjust_qoh_std(invsync_store *store, const char *sku, int32_t delta,
                               int32_t reason, int32_t origin_cart_id, int32_t flags);
int32_t invsync_item_qoh_std(invsync_store *store, const char *sku, int32_t *out_qoh);
int32_t invsync_cart_upsert_std(invsync_store *store, const char *cart_json,
                                int32_t *out_cart_id);
int32_t invsync_send_qoh_std(invsync_store *store, int32_t cart_id, int32_t flags,
                             invsync_progress_std_fn progress, void *user, char *buf,
                             int32_t len, int32_t *needed);
int32_t invsync_stack_count_std(invsync_store *store, int32_t cart_id, int32_t state,
                                int32_t *out);
int32_t invsync_cart_retire_std(invsync_store *store, int32_t cart_id, int32_t *out_discarded);

static int passed, failed;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (cond) {                                                                     \
            passed++;                                                                   \
        } else {                                                                        \
            failed++;                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
                    last_error());                                                      \
        }                                                                               \
    } while (0)

#define CHECK_STATUS(expr, want)                                                        \
    do {                                                                                \
        int32_t got_ = (expr);                                                          \
        if (got_ == (want)) {                                                           \
            passed++;                                                                   \
        } else {                                                                        \
            failed++;                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s returned %d, expected %d (last error: %s)\n", \
                    __FILE__, __LINE__, #expr, (int)got_, (int)(want), last_error());   \
        }                                                                               \
    } while (0)

static const char *last_error(void) {
    static char msg[4096];
    int32_t needed = 0;
    msg[0] = '\0';
    if (invsync_last_error(msg, (int32_t)sizeof msg, &needed) != INVSYNC_OK) {
        snprintf(msg, sizeof msg, "(message of %d bytes)", (int)needed);
    }
    return msg;
}

static int error_contains(const char *what) { return strstr(last_error(), what) != NULL; }

/* Reads a text-out function the way a host should: ask the size, allocate, read. */
typedef int32_t (INVSYNC_CALL *text_fn)(invsync_store *s, char *buf, int32_t len, int32_t *needed);
static char *read_text(text_fn f, invsync_store *s) {
    int32_t needed = -1;
    char *buf;
    if (f(s, NULL, 0, &needed) != INVSYNC_OK || needed < 1) return NULL;
    buf = malloc((size_t)needed);
    if (buf == NULL) return NULL;
    if (f(s, buf, needed, &needed) != INVSYNC_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static char *stack_list(invsync_store *s, const char *filter) {
    int32_t needed = 0;
    char *buf;
    if (invsync_stack_list(s, filter, NULL, 0, &needed) != INVSYNC_OK) return NULL;
    buf = malloc((size_t)needed);
    if (buf && invsync_stack_list(s, filter, buf, needed, &needed) != INVSYNC_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int32_t count_waiting(invsync_store *s, int32_t cart) {
    int32_t n = -1;
    if (invsync_stack_count(s, cart, 1, &n) != INVSYNC_OK) return -1;
    return n;
}

static int32_t qoh(invsync_store *s, const char *sku) {
    int32_t q = -999;
    if (invsync_item_qoh(s, sku, &q) != INVSYNC_OK) return -999;
    return q;
}

static int32_t cart_qoh(invsync_emulator *e, const char *sku) {
    int32_t q = -999;
    if (invsync_emulator_qoh(e, sku, &q) != INVSYNC_OK) return -999;
    return q;
}

static int32_t make_cart(invsync_store *s, invsync_emulator *e, const char *name,
                         const char *realtime, int max_items, const char *token) {
    char url[256], json[1024];
    int32_t needed = 0, id = -1;
    if (invsync_emulator_url(e, url, (int32_t)sizeof url, &needed) != INVSYNC_OK) return -1;
    snprintf(json, sizeof json,
             "{\"name\":\"%s\",\"adapter\":\"http_json\",\"url\":\"%s\"%s%s%s,"
             "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"%s\"},"
             "\"max_items_to_send\":%d}",
             name, url, token ? ",\"token\":\"" : "", token ? token : "", token ? "\"" : "",
             realtime, max_items);
    if (invsync_cart_upsert(s, json, &id) != INVSYNC_OK) return -1;
    return id;
}

/* Progress callbacks: one that counts, one that cancels at its first call. */
struct progress_log {
    int calls;
    int32_t last_done, last_total;
    int cancel_at;
};
static int32_t INVSYNC_CALL on_progress(void *user, int32_t done, int32_t total) {
    struct progress_log *log = user;
    log->calls++;
    log->last_done = done;
    log->last_total = total;
    return log->cancel_at > 0 && log->calls >= log->cancel_at ? 1 : 0;
}

/* The id of the first record of `sku` in a stack listing (the "id" key comes first). */
static int32_t find_record(const char *list, const char *sku) {
    char key[300];
    const char *at, *id = NULL, *p;
    if (list == NULL) return -1;
    snprintf(key, sizeof key, "\"sku\":\"%s\"", sku);
    at = strstr(list, key);
    if (at == NULL) return -1;
    for (p = list; (p = strstr(p, "\"id\":")) != NULL && p < at; p++) id = p;
    return id ? (int32_t)atoi(id + 5) : -1;
}

static char tmpdir[256];

static void scenario(void) {
    invsync_store *s = NULL;
    invsync_emulator *web_a = NULL, *web_b = NULL, *web_c = NULL;
    char path[512], buf[8192];
    int32_t a, b, c, needed = 0, n = 0, before = 0, rec, waiting;
    char *text;
    struct progress_log log;

    snprintf(path, sizeof path, "%s/scenario.db", tmpdir);
    CHECK_STATUS(invsync_store_open(path, &s), INVSYNC_OK);
    CHECK(s != NULL);
    if (s == NULL) return;
    CHECK_STATUS(invsync_emulator_start(&web_a), INVSYNC_OK);
    CHECK_STATUS(invsync_emulator_start(&web_b), INVSYNC_OK);
    CHECK_STATUS(invsync_emulator_start(&web_c), INVSYNC_OK);

    CHECK_STATUS(invsync_param_set(s, "SynchQOH", "true"), INVSYNC_OK);
    CHECK_STATUS(invsync_param_set(s, "RetryBaseMs", "0"), INVSYNC_OK);
    CHECK_STATUS(invsync_param_get(s, "SynchQOH", buf, (int32_t)sizeof buf, &needed), INVSYNC_OK);
    CHECK(strcmp(buf, "true") == 0 && needed == 5);
    CHECK_STATUS(invsync_param_get(s, "StackMode", buf, (int32_t)sizeof buf, NULL), INVSYNC_OK);
    CHECK(strcmp(buf, "local") == 0);

    /* Carts: two real-time carts, one manual cart with batches of 2. */
    a = make_cart(s, web_a, "Web A", "attribute", 50, "s3cr3t-token-A");
    b = make_cart(s, web_b, "Web B", "sku", 50, NULL);
    c = make_cart(s, web_c, "Web C", "none", 2, NULL);
    CHECK(a > 0 && b > 0 && c > 0 && a != b && b != c);
    /* Saved again under its name through invsync_cart_save: the same cart, nothing held. */
    {
        char url[256], json[1024];
        int32_t id = -1, uncertain = -1;
        CHECK_STATUS(invsync_emulator_url(web_c, url, (int32_t)sizeof url, &needed), INVSYNC_OK);
        snprintf(json, sizeof json,
                 "{\"name\":\"Web C\",\"adapter\":\"http_json\",\"url\":\"%s\","
                 "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"none\"},"
                 "\"max_items_to_send\":2}",
                 url);
        CHECK_STATUS(invsync_cart_save(s, json, &id, &uncertain), INVSYNC_OK);
        CHECK(id == c && uncertain == 0);
    }
    /* web_a answers only with the token; the cart was given it. */
    CHECK_STATUS(invsync_cart_set_sync(s, a, 1), INVSYNC_OK);
    CHECK_STATUS(invsync_cart_set_sync(s, b, 1), INVSYNC_OK);
    CHECK_STATUS(invsync_cart_set_sync(s, c, 1), INVSYNC_REFUSED); /* no real-time */
    text = read_text(invsync_cart_list, s);
    CHECK(text != NULL && strstr(text, "Web A") && strstr(text, "Web C"));
    CHECK(text != NULL && strstr(text, "s3cr3t-token-A") == NULL);
    free(text);

    /* Items: initial QOH queues nothing (rule 13). */
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"TEE-M\",\"qoh\":10,\"description\":\"Tee M\"}"),
                 INVSYNC_OK);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"TEE-L\",\"qoh\":5}"), INVSYNC_OK);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"CAP\",\"qoh\":3}"), INVSYNC_OK);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"TEE-M\",\"qoh\":11}"), INVSYNC_REFUSED);
    CHECK(qoh(s, "TEE-M") == 10);
    CHECK(count_waiting(s, 0) == 0);
    CHECK_STATUS(invsync_item_list(s, "{\"sku_prefix\":\"TEE\"}", buf, (int32_t)sizeof buf, &needed),
                 INVSYNC_OK);
    CHECK(strstr(buf, "TEE-M") && strstr(buf, "TEE-L") && !strstr(buf, "CAP"));
    invsync_emulator_set_qoh(web_a, "TEE-M", 10);
    invsync_emulator_set_qoh(web_b, "TEE-M", 10);
    invsync_emulator_set_qoh(web_a, "TEE-L", 5);
    invsync_emulator_set_qoh(web_b, "TEE-L", 5);

    /* An adjustment fans out to both real-time carts (rule 1). */
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE-M", -2, 2, 0, 0), INVSYNC_OK);
    CHECK(qoh(s, "TEE-M") == 8);
    CHECK(count_waiting(s, 0) == 2);
    CHECK(count_waiting(s, a) == 1 && count_waiting(s, b) == 1);
    /* An order imported from A goes to B only (rule 2). */
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE-L", -1, 3, a, 0), INVSYNC_OK);
    CHECK(count_waiting(s, a) == 1 && count_waiting(s, b) == 2);
    /* "Don't send QOH changes to web sites" queues nothing (rule 3). */
    CHECK_STATUS(invsync_adjust_qoh(s, "CAP", 4, 4, 0, INVSYNC_ADJUST_NO_WEB), INVSYNC_OK);
    CHECK(qoh(s, "CAP") == 7 && count_waiting(s, 0) == 3);
    /* A host reference makes a retry a no-op. */
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "TEE-L", 3, 4, 0, 0, "PO-17/1"), INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "TEE-L", 3, 4, 0, 0, "PO-17/1"), INVSYNC_OK);
    CHECK(qoh(s, "TEE-L") == 7);
    /* Another change under a reference used before would be lost if skipped: refused. */
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "CAP", -2, 3, 0, 0, "PO-17/1"), INVSYNC_REFUSED);
    CHECK(qoh(s, "CAP") == 7 && qoh(s, "TEE-L") == 7);
    /* So is the same change made first without the carts, retried to reach them: skipped, the
       carts would never be told. */
    waiting = count_waiting(s, 0);
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "CAP", -1, 4, 0, INVSYNC_ADJUST_NO_WEB, "ADJ-9"),
                 INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "CAP", -1, 4, 0, 0, "ADJ-9"), INVSYNC_REFUSED);
    CHECK(error_contains("ADJ-9") && error_contains("Send QOH"));
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "CAP", -1, 4, 0, INVSYNC_ADJUST_NO_WEB, "ADJ-9"),
                 INVSYNC_OK);
    CHECK(qoh(s, "CAP") == 6);
    /* Its correction, also kept from the carts: nothing queued for either. */
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "CAP", 1, 4, 0, INVSYNC_ADJUST_NO_WEB, "ADJ-10"),
                 INVSYNC_OK);
    CHECK(qoh(s, "CAP") == 7 && count_waiting(s, 0) == waiting);
    CHECK_STATUS(invsync_ledger_list(s, "{\"sku\":\"TEE-L\"}", buf, (int32_t)sizeof buf, NULL),
                 INVSYNC_OK);
    CHECK(strstr(buf, "PO-17/1") != NULL);

    /* The troubleshooting view. */
    text = stack_list(s, NULL);
    CHECK(text != NULL && strstr(text, "\"sku\":\"TEE-M\"") && strstr(text, "\"attempts\":0"));
    free(text);
    text = stack_list(s, "{\"cart_id\":1,\"state\":1,\"limit\":10}");
    /* The order imported from A (TEE-L -1) is not queued for A. */
    CHECK(text != NULL && strstr(text, "\"delta\":-1") == NULL && strstr(text, "\"delta\":3"));
    free(text);

    /* A host transaction: rolled back, nothing stays; network calls are refused in it. */
    CHECK_STATUS(invsync_begin(s), INVSYNC_OK);
    CHECK_STATUS(invsync_begin(s), INVSYNC_REFUSED);
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE-M", -1, 1, 0, 0), INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh(s, "NOPE", -1, 1, 0, 0), INVSYNC_NOT_FOUND);
    CHECK(qoh(s, "TEE-M") == 7);
    CHECK_STATUS(invsync_stack_run(s, 0, NULL, 0, NULL), INVSYNC_REFUSED);
    CHECK(error_contains("host transaction"));
    CHECK_STATUS(invsync_rollback(s), INVSYNC_OK);
    CHECK(qoh(s, "TEE-M") == 8 && count_waiting(s, 0) == 5);
    CHECK_STATUS(invsync_commit(s), INVSYNC_REFUSED);

    /* The stack controller drains it; a too-small buffer still runs the pass. */
    CHECK_STATUS(invsync_stack_run(s, 0, buf, 4, &needed), INVSYNC_BUFFER_TOO_SMALL);
    CHECK(needed > 4);
    CHECK(count_waiting(s, 0) == 0);
    CHECK(cart_qoh(web_a, "TEE-M") == 8 && cart_qoh(web_b, "TEE-M") == 8);
    CHECK(cart_qoh(web_a, "TEE-L") == 5 + 3 && cart_qoh(web_b, "TEE-L") == 7);
    CHECK_STATUS(invsync_last_report(s, buf, needed, &n), INVSYNC_OK);
    /* Five records sent (two for A, three for B), TEE-L's two for B coalesced into one request item. */
    CHECK(n == needed && strstr(buf, "\"sent\":5") && strstr(buf, "\"remaining\":0"));

    /* Send QOH with a progress callback that cancels after the first batch of 2. */
    invsync_emulator_set_qoh(web_c, "TEE-M", 0);
    invsync_emulator_set_qoh(web_c, "TEE-L", 0);
    invsync_emulator_set_qoh(web_c, "CAP", 0);
    memset(&log, 0, sizeof log);
    log.cancel_at = 1;
    buf[0] = '\0';
    CHECK_STATUS(invsync_send_qoh(s, c, 0, on_progress, &log, buf, (int32_t)sizeof buf, &needed),
                 INVSYNC_CANCELLED);
    CHECK(log.calls == 1 && log.last_done == 2 && log.last_total == 3);
    CHECK(strstr(buf, "\"cancelled\":true") && strstr(buf, "\"sent\":2"));
    CHECK(error_contains("cancelled"));
    CHECK_STATUS(invsync_last_report(s, buf, (int32_t)sizeof buf, NULL), INVSYNC_OK);
    CHECK(strstr(buf, "\"requests\":1") != NULL);
    /* The whole send, counting progress. */
    memset(&log, 0, sizeof log);
    CHECK_STATUS(invsync_send_qoh(s, c, 0, on_progress, &log, buf, (int32_t)sizeof buf, &needed),
                 INVSYNC_OK);
    CHECK(strstr(buf, "\"sent\":3") && strstr(buf, "\"requests\":2"));
    CHECK(log.calls >= 2 && log.last_done == 3);
    CHECK(cart_qoh(web_c, "TEE-M") == 8 && cart_qoh(web_c, "CAP") == 7);
    /* Without a callback, too. */
    CHECK_STATUS(invsync_send_qoh(s, c, 0, NULL, NULL, NULL, 0, NULL), INVSYNC_OK);
    /* Manual sync is refused while real-time is on, unless forced (rule 9). */
    CHECK_STATUS(invsync_send_qoh(s, a, 0, NULL, NULL, NULL, 0, NULL), INVSYNC_REFUSED);
    CHECK_STATUS(invsync_send_qoh(s, a, INVSYNC_MANUAL_FORCE, NULL, NULL, NULL, 0, NULL),
                 INVSYNC_OK);

    /* Get QOH: the cart sold 2 caps and knows a mug the store does not. */
    invsync_emulator_set_qoh(web_c, "CAP", 5);
    invsync_emulator_set_qoh(web_c, "MUG", 9);
    /* Cancel on the one page's call (made once it is read, before any count is applied):
     * nothing applied. */
    memset(&log, 0, sizeof log);
    log.cancel_at = 1;
    CHECK_STATUS(invsync_get_qoh(s, c, 0, on_progress, &log, buf, (int32_t)sizeof buf, &needed),
                 INVSYNC_CANCELLED);
    CHECK(log.calls == 1 && log.last_done == log.last_total && strstr(buf, "\"cancelled\":true"));
    CHECK(qoh(s, "CAP") == 7);
    memset(&log, 0, sizeof log);
    CHECK_STATUS(invsync_get_qoh(s, c, 0, on_progress, &log, buf, (int32_t)sizeof buf, &needed),
                 INVSYNC_OK);
    CHECK(strstr(buf, "\"updated\":1") && strstr(buf, "\"MUG\""));
    CHECK(qoh(s, "CAP") == 5 && qoh(s, "MUG") == -999);
    CHECK(log.calls >= 1);
    CHECK_STATUS(invsync_get_qoh(s, c, INVSYNC_GET_CREATE_NEW, NULL, NULL, buf,
                                 (int32_t)sizeof buf, NULL),
                 INVSYNC_OK);
    CHECK(strstr(buf, "\"created\":1") != NULL && qoh(s, "MUG") == 9);

    /* Preflight: web_b does not have CAP (unmapped), and is otherwise in step. */
    CHECK_STATUS(invsync_preflight(s, b, buf, (int32_t)sizeof buf, &needed), INVSYNC_OK);
    CHECK(buf[0] == '[' && strstr(buf, "\"unmapped\"") && strstr(buf, "CAP"));
    CHECK(strstr(buf, "\"drift\"") == NULL);
    invsync_emulator_set_qoh(web_b, "TEE-M", 1);
    CHECK_STATUS(invsync_preflight(s, b, buf, (int32_t)sizeof buf, &needed), INVSYNC_OK);
    CHECK(strstr(buf, "\"drift\"") && strstr(buf, "\"cart_qoh\":1"));
    /* Too small a buffer: the warnings are read with last_report, not by reading the cart again. */
    CHECK_STATUS(invsync_preflight(s, b, buf, 8, &needed), INVSYNC_BUFFER_TOO_SMALL);
    n = -1;
    CHECK_STATUS(invsync_last_report(s, buf, (int32_t)sizeof buf, &n), INVSYNC_OK);
    CHECK(n == needed && strstr(buf, "\"cart_qoh\":1"));

    /* A bypassed record can be listed, retried and discarded. */
    CHECK_STATUS(invsync_param_set(s, "BypassAfterAttempts", "1"), INVSYNC_OK);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"GHOST\",\"qoh\":1}"), INVSYNC_OK);
    /* Get QOH's -2 on CAP went to A and B, which do not sell CAP: drain it first. */
    CHECK_STATUS(invsync_stack_run(s, 0, NULL, 0, NULL), INVSYNC_OK);
    CHECK_STATUS(invsync_stack_count(s, 0, 2, &before), INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh(s, "GHOST", 1, 1, 0, 0), INVSYNC_OK);
    CHECK_STATUS(invsync_stack_run(s, 10, NULL, 0, NULL), INVSYNC_OK);
    n = -1;
    CHECK_STATUS(invsync_stack_count(s, 0, 2, &n), INVSYNC_OK);
    CHECK(n == before + 2); /* neither cart knows GHOST: a permanent failure, bypassed at once */
    text = stack_list(s, "{\"state\":2}");
    rec = find_record(text, "GHOST");
    CHECK(text != NULL && strstr(text, "\"bypassed\"") && rec > 0);
    free(text);
    CHECK_STATUS(invsync_stack_retry(s, rec), INVSYNC_OK);
    CHECK_STATUS(invsync_stack_retry(s, rec), INVSYNC_REFUSED); /* waiting again */
    CHECK_STATUS(invsync_stack_run(s, 0, NULL, 0, NULL), INVSYNC_OK);
    CHECK_STATUS(invsync_stack_discard(s, rec), INVSYNC_OK);
    CHECK_STATUS(invsync_stack_discard(s, rec), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_item_delete(s, "GHOST"), INVSYNC_REFUSED); /* one record left */
    CHECK(error_contains("GHOST"));
    text = stack_list(s, "{\"state\":2}");
    rec = find_record(text, "GHOST");
    free(text);
    CHECK(rec > 0);
    CHECK_STATUS(invsync_stack_discard(s, rec), INVSYNC_OK);
    /* Real-time carts would show 2 of it: counted to 0 first, not sent (no cart lists it). */
    CHECK_STATUS(invsync_item_delete(s, "GHOST"), INVSYNC_REFUSED);
    CHECK(error_contains("shows 2"));
    CHECK_STATUS(invsync_adjust_qoh(s, "GHOST", -2, 1, 0, INVSYNC_ADJUST_NO_WEB), INVSYNC_OK);
    CHECK_STATUS(invsync_item_delete(s, "GHOST"), INVSYNC_OK);
    CHECK_STATUS(invsync_stack_retry(s, 999999), INVSYNC_NOT_FOUND);

    /* Web fields: a buffer of 2 on A changes A's published count at once. */
    CHECK_STATUS(invsync_web_fields_set(s, a, "TEE-M", "{\"buffer\":2}"), INVSYNC_OK);
    CHECK(count_waiting(s, a) == 1);
    CHECK_STATUS(invsync_stack_run(s, 0, NULL, 0, NULL), INVSYNC_OK);
    CHECK(cart_qoh(web_a, "TEE-M") == 6);

    /* The background controller. */
    CHECK_STATUS(invsync_controller_start(s, 50), INVSYNC_OK);
    CHECK_STATUS(invsync_controller_start(s, 50), INVSYNC_REFUSED);
    text = read_text(invsync_controller_status, s);
    CHECK(text != NULL && strstr(text, "\"running\":true"));
    free(text);
    CHECK_STATUS(invsync_controller_stop(s), INVSYNC_OK);
    text = read_text(invsync_controller_status, s);
    CHECK(text != NULL && strstr(text, "\"running\":false"));
    free(text);

    /* Deleting: a cart with nothing waiting goes. */
    CHECK_STATUS(invsync_cart_delete(s, c), INVSYNC_OK);
    CHECK_STATUS(invsync_cart_delete(s, c), INVSYNC_NOT_FOUND);

    /* Closing with an open host transaction rolls it back. */
    CHECK_STATUS(invsync_begin(s), INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh(s, "CAP", 100, 4, 0, 0), INVSYNC_OK);
    invsync_store_close(s);
    s = NULL;
    CHECK_STATUS(invsync_store_open(path, &s), INVSYNC_OK);
    CHECK(qoh(s, "CAP") == 5);
    invsync_store_close(s);

    invsync_emulator_stop(web_a);
    invsync_emulator_stop(web_b);
    invsync_emulator_stop(web_c);
}

static void null_pointers(invsync_store *s) {
    char buf[64];
    int32_t n = -77, out = -77;
    invsync_store *sentinel = (invsync_store *)&n;
    invsync_store *o = sentinel;

    CHECK_STATUS(invsync_store_open(NULL, &o), INVSYNC_NULL_POINTER);
    CHECK(error_contains("invsync_store_open") && error_contains("path is NULL"));
    CHECK_STATUS(invsync_store_open("x.db", NULL), INVSYNC_NULL_POINTER);
    CHECK(o == sentinel);
    invsync_store_close(NULL);
    invsync_emulator_stop(NULL);
    CHECK_STATUS(invsync_param_set(NULL, "SynchQOH", "true"), INVSYNC_NULL_POINTER);
    CHECK(error_contains("store is NULL"));
    CHECK_STATUS(invsync_param_set(s, NULL, "true"), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_param_set(s, "SynchQOH", NULL), INVSYNC_NULL_POINTER);
    CHECK(error_contains("value is NULL"));
    CHECK_STATUS(invsync_param_get(NULL, "SynchQOH", buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_param_get(s, NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_param_get(s, "SynchQOH", NULL, 64, &n), INVSYNC_NULL_POINTER);
    CHECK(error_contains("buf is NULL"));
    CHECK_STATUS(invsync_cart_upsert(NULL, "{}", &out), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_cart_upsert(s, NULL, &out), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_cart_upsert(s, "{}", NULL), INVSYNC_NULL_POINTER);
    CHECK(out == -77);
    CHECK_STATUS(invsync_cart_save(NULL, "{}", &out, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_cart_save(s, NULL, &out, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_cart_save(s, "{}", NULL, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_cart_save(s, "{}", &out, NULL), INVSYNC_NULL_POINTER);
    CHECK(error_contains("out_uncertain is NULL"));
    CHECK(out == -77 && n == -77);
    CHECK_STATUS(invsync_cart_set_sync(NULL, 1, 1), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_cart_list(NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_cart_delete(NULL, 1), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_cart_retire(NULL, 1, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_item_upsert(NULL, "{}"), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_item_upsert(s, NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_item_list(NULL, NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_item_delete(NULL, "A"), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_item_delete(s, NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_web_fields_set(NULL, 1, "A", "{}"), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_web_fields_set(s, 1, NULL, "{}"), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_web_fields_set(s, 1, "A", NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_adjust_qoh(NULL, "A", 1, 1, 0, 0), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_adjust_qoh(s, NULL, 1, 1, 0, 0), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_adjust_qoh_ref(NULL, "A", 1, 1, 0, 0, "r"), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_adjust_qoh_ref(s, NULL, 1, 1, 0, 0, "r"), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "A", 1, 1, 0, 0, NULL), INVSYNC_NULL_POINTER);
    CHECK(error_contains("host_ref is NULL"));
    CHECK_STATUS(invsync_item_qoh(NULL, "A", &out), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_item_qoh(s, NULL, &out), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_item_qoh(s, "A", NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_ledger_list(NULL, NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_begin(NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_commit(NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_rollback(NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_stack_count(NULL, 0, 1, &out), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_stack_count(s, 0, 1, NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_stack_list(NULL, NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_stack_retry(NULL, 1), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_stack_discard(NULL, 1), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_stack_run(NULL, 0, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_stack_run(s, 0, NULL, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_controller_start(NULL, 10), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_controller_stop(NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_controller_status(NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_send_qoh(NULL, 1, 0, NULL, NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_get_qoh(NULL, 1, 0, NULL, NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_preflight(NULL, 1, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_last_report(NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_last_error(NULL, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_emulator_start(NULL), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_emulator_url(NULL, buf, 64, &n), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_emulator_set_qoh(NULL, "A", 1), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_emulator_qoh(NULL, "A", &out), INVSYNC_NULL_POINTER);
    CHECK(out == -77);
}

static void bad_input(invsync_store *s) {
    /* Bytes that are not UTF-8: a lone continuation byte, an overlong NUL, a surrogate. */
    static const char bad1[] = {'T', (char)0x80, 'X', 0};
    static const char bad2[] = {(char)0xC0, (char)0x80, 0};
    static const char bad3[] = {'{', '"', 's', 'k', 'u', '"', ':', '"', (char)0xED, (char)0xA0,
                                (char)0x80, '"', '}', 0};
    char buf[256], small[4];
    int32_t n = -77, out = -77, cart = -77;
    char *big, *carts_before, *carts_after;
    invsync_store *never = NULL;

    CHECK_STATUS(invsync_item_qoh(s, bad1, &out), INVSYNC_INVALID_UTF8);
    CHECK(error_contains("sku is not valid UTF-8"));
    CHECK_STATUS(invsync_item_qoh(s, bad2, &out), INVSYNC_INVALID_UTF8);
    CHECK_STATUS(invsync_item_upsert(s, bad3), INVSYNC_INVALID_UTF8);
    CHECK_STATUS(invsync_param_set(s, bad1, "true"), INVSYNC_INVALID_UTF8);
    CHECK_STATUS(invsync_param_set(s, "Workstation", bad2), INVSYNC_INVALID_UTF8);
    CHECK_STATUS(invsync_store_open(bad1, &never), INVSYNC_INVALID_UTF8);
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "TEE", 1, 1, 0, 0, bad3), INVSYNC_INVALID_UTF8);
    CHECK_STATUS(invsync_stack_list(s, bad3, buf, 256, &n), INVSYNC_INVALID_UTF8);
    CHECK(out == -77);

    /* Unknown SKU, cart, record, parameter. */
    CHECK_STATUS(invsync_item_qoh(s, "NO-SUCH-SKU", &out), INVSYNC_NOT_FOUND);
    CHECK(error_contains("NO-SUCH-SKU") && out == -77);
    CHECK_STATUS(invsync_adjust_qoh(s, "NO-SUCH-SKU", 1, 1, 0, 0), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_item_delete(s, "NO-SUCH-SKU"), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_cart_set_sync(s, 4242, 1), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_cart_delete(s, 4242), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_cart_retire(s, 4242, &n), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_cart_retire(s, 0, &n), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_send_qoh(s, 4242, 0, NULL, NULL, NULL, 0, NULL), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_get_qoh(s, 4242, 0, NULL, NULL, NULL, 0, NULL), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_preflight(s, 4242, NULL, 0, NULL), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_stack_count(s, 4242, 1, &out), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_stack_discard(s, 4242), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_web_fields_set(s, 4242, "TEE", "{}"), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_param_set(s, "NoSuchParam", "1"), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("NoSuchParam"));
    CHECK_STATUS(invsync_param_get(s, "NoSuchParam", buf, 256, &n), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_last_report(s, buf, 256, &n), INVSYNC_NOT_FOUND);

    /* Bad JSON and bad values. */
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":"), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("malformed"));
    CHECK_STATUS(invsync_item_upsert(s, "[1,2]"), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_item_upsert(s, ""), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_cart_upsert(s, "not json", &cart), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_cart_upsert(s,
                                     "{\"name\":\"X\",\"adapter\":\"http_json\",\"url\":\"ftp://x/\","
                                     "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"none\"}}",
                                     &cart),
                 INVSYNC_INVALID_ARGUMENT);
    CHECK(cart == -77);
    /* Settings every later call on the cart would refuse are refused when it is defined, by
     * name and without quoting a secret, and change nothing: a url with a query (which could
     * hold a credential and would come back out of the cart list) or fragment, a credential
     * an HTTP header cannot carry. */
    carts_before = read_text(invsync_cart_list, s);
    CHECK_STATUS(invsync_cart_upsert(s,
                                     "{\"name\":\"Q\",\"adapter\":\"http_json\","
                                     "\"url\":\"http://127.0.0.1:9/api?key=SECRETKEY\","
                                     "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"none\"}}",
                                     &cart),
                 INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("url") && error_contains("query") && !error_contains("SECRETKEY"));
    CHECK_STATUS(invsync_cart_upsert(s,
                                     "{\"name\":\"Q\",\"adapter\":\"http_json\","
                                     "\"url\":\"http://127.0.0.1:9/#SECRETKEY\","
                                     "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"none\"}}",
                                     &cart),
                 INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("fragment") && !error_contains("SECRETKEY"));
    CHECK_STATUS(invsync_cart_upsert(s,
                                     "{\"name\":\"T\",\"adapter\":\"http_json\","
                                     "\"url\":\"http://127.0.0.1:9/\",\"token\":\"SECRET\\r\\nKEY\","
                                     "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"none\"}}",
                                     &cart),
                 INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("token") && !error_contains("SECRET"));
    CHECK_STATUS(invsync_cart_upsert(s,
                                     "{\"name\":\"W\",\"adapter\":\"woocommerce\","
                                     "\"url\":\"https://w.example/\",\"consumer_key\":\"ck\","
                                     "\"consumer_secret\":\"SECRETKEY\\n\"}",
                                     &cart),
                 INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("consumer_secret") && !error_contains("SECRETKEY"));
    CHECK(cart == -77);
    carts_after = read_text(invsync_cart_list, s);
    CHECK(carts_before && carts_after && strcmp(carts_before, carts_after) == 0);
    free(carts_before);
    free(carts_after);
    /* A secret naming an environment variable is read only when the adapter is built. */
    CHECK_STATUS(invsync_cart_upsert(s,
                                     "{\"name\":\"EnvTok\",\"adapter\":\"http_json\","
                                     "\"url\":\"http://127.0.0.1:9/\",\"token\":\"env:INVSYNC_C_NO_SUCH_VAR\","
                                     "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"none\"}}",
                                     &cart),
                 INVSYNC_OK);
    CHECK_STATUS(invsync_cart_delete(s, cart), INVSYNC_OK);
    cart = -77;
    CHECK_STATUS(invsync_item_list(s, "{\"bogus\":1}", buf, 256, &n), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_ledger_list(s, "{\"limit\":0}", buf, 256, &n), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_stack_list(s, "{\"state\":9}", buf, 256, &n), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_param_set(s, "SynchQOH", "maybe"), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_param_set(s, "LeaseMs", "-5"), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_param_set(s, "StackMode", "everywhere"), INVSYNC_INVALID_ARGUMENT);
    /* A host's own timer, declared per handle (0: none); read back as set. */
    CHECK_STATUS(invsync_param_set(s, "PassIntervalMs", "3600001"), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("PassIntervalMs"));
    CHECK_STATUS(invsync_param_set(s, "PassIntervalMs", "300000"), INVSYNC_OK);
    CHECK_STATUS(invsync_param_get(s, "PassIntervalMs", buf, 256, &n), INVSYNC_OK);
    CHECK(strcmp(buf, "300000") == 0);
    CHECK_STATUS(invsync_param_set(s, "PassIntervalMs", "0"), INVSYNC_OK);

    /* Out-of-range numbers. */
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"TEE\",\"qoh\":1}"), INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE", 0, 1, 0, 0), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("delta"));
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE", 1, 0, 0, 0), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE", 1, 7, 0, 0), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("reason"));
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE", 1, 1, -1, 0), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE", 1, 1, 0, 2), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE", INT32_MAX, 1, 0, 0), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_adjust_qoh(s, "TEE", 1, 1, 4242, 0), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_adjust_qoh_ref(s, "TEE", 1, 1, 0, 0, ""), INVSYNC_INVALID_ARGUMENT);
    CHECK(qoh(s, "TEE") == 1);
    CHECK_STATUS(invsync_cart_set_sync(s, 1, 2), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_cart_set_sync(s, 0, 1), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_cart_set_sync(s, -5, 1), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_stack_count(s, 0, 0, &out), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_stack_count(s, 0, 4, &out), INVSYNC_INVALID_ARGUMENT);
    /* A record id that can never be one, as a cart id <= 0 is. */
    CHECK_STATUS(invsync_stack_retry(s, 0), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("record_id 0"));
    CHECK_STATUS(invsync_stack_retry(s, -1), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_stack_discard(s, 0), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_stack_discard(s, INT32_MIN), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("record_id"));
    CHECK_STATUS(invsync_stack_count(s, -1, 1, &out), INVSYNC_INVALID_ARGUMENT);
    CHECK(out == -77);
    CHECK_STATUS(invsync_stack_run(s, -1, NULL, 0, NULL), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_controller_start(s, 0), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_controller_start(s, -10), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_controller_start(s, INT32_MAX), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_send_qoh(s, 1, 8, NULL, NULL, NULL, 0, NULL), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_get_qoh(s, 1, 4, NULL, NULL, NULL, 0, NULL), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_param_get(s, "SynchQOH", buf, -1, &n), INVSYNC_INVALID_ARGUMENT);
    /* A store must be a file: the controller and manual runs open their own connections to
     * it, and an in-memory database is not shared between connections. */
    CHECK_STATUS(invsync_store_open("", &never), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("a store must be a file"));
    CHECK_STATUS(invsync_store_open(":memory:", &never), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("a store must be a file"));
    CHECK_STATUS(invsync_store_open("file::memory:", &never), INVSYNC_INVALID_ARGUMENT);
    CHECK_STATUS(invsync_store_open("file:mem.db?mode=memory", &never), INVSYNC_INVALID_ARGUMENT);
    CHECK(error_contains("a store must be a file"));
    CHECK(never == NULL);

    /* Buffers: a size query, too small (nothing written), then the right size. */
    n = -1;
    CHECK_STATUS(invsync_param_get(s, "RetryMaxMs", NULL, 0, &n), INVSYNC_OK);
    CHECK(n == 7); /* "300000" and its NUL */
    memset(small, 'Z', sizeof small);
    CHECK_STATUS(invsync_param_get(s, "RetryMaxMs", small, 4, &n), INVSYNC_BUFFER_TOO_SMALL);
    CHECK(n == 7 && small[0] == 'Z' && small[3] == 'Z');
    CHECK(error_contains("7 are needed"));
    CHECK_STATUS(invsync_param_get(s, "RetryMaxMs", buf, n, &n), INVSYNC_OK);
    CHECK(strcmp(buf, "300000") == 0);
    CHECK_STATUS(invsync_param_get(s, "RetryMaxMs", buf, 7, NULL), INVSYNC_OK);
    CHECK_STATUS(invsync_param_get(s, "RetryMaxMs", buf, 6, NULL), INVSYNC_BUFFER_TOO_SMALL);
    /* The last error itself, too small then right. */
    CHECK_STATUS(invsync_item_qoh(s, "NO-SUCH-SKU", &out), INVSYNC_NOT_FOUND);
    n = 0;
    CHECK_STATUS(invsync_last_error(NULL, 0, &n), INVSYNC_OK);
    CHECK(n > 10);
    CHECK_STATUS(invsync_last_error(small, 4, &n), INVSYNC_BUFFER_TOO_SMALL);
    big = malloc((size_t)n);
    CHECK(big != NULL);
    if (big) {
        CHECK_STATUS(invsync_last_error(big, n, NULL), INVSYNC_OK);
        CHECK(strstr(big, "invsync_item_qoh") && strlen(big) + 1 == (size_t)n);
        free(big);
    }

    /* Oversized input: a SKU longer than INVSYNC_MAX_NAME_IN. */
    big = malloc((size_t)INVSYNC_MAX_NAME_IN + 16);
    if (big) {
        memset(big, 'A', (size_t)INVSYNC_MAX_NAME_IN + 15);
        big[INVSYNC_MAX_NAME_IN + 15] = '\0';
        CHECK_STATUS(invsync_item_qoh(s, big, &out), INVSYNC_INVALID_ARGUMENT);
        CHECK(error_contains("longer than"));
        big[300] = '\0';
        CHECK_STATUS(invsync_item_qoh(s, big, &out), INVSYNC_INVALID_ARGUMENT); /* > 255 */
        free(big);
    }

    /* A cart nobody listens on: no request reached it. */
    CHECK_STATUS(invsync_cart_upsert(s,
                                     "{\"name\":\"Down\",\"adapter\":\"http_json\","
                                     "\"url\":\"http://127.0.0.1:1/\",\"token\":\"tok-SECRET-99\","
                                     "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"none\"}}",
                                     &cart),
                 INVSYNC_OK);
    CHECK_STATUS(invsync_get_qoh(s, cart, 0, NULL, NULL, NULL, 0, NULL), INVSYNC_NETWORK);
    CHECK(error_contains("Down") && !error_contains("tok-SECRET-99"));
    CHECK_STATUS(invsync_preflight(s, cart, NULL, 0, NULL), INVSYNC_NETWORK);
    /* A product with variants holds no stock. */
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"SHIRT\"}"), INVSYNC_OK);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"SHIRT-S\",\"parent_sku\":\"SHIRT\","
                                        "\"attributes\":{\"Size\":\"S\"},\"qoh\":2}"),
                 INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh(s, "SHIRT", 1, 1, 0, 0), INVSYNC_REFUSED);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"X\",\"parent_sku\":\"NOPE\"}"), INVSYNC_NOT_FOUND);
}

/* Retiring the cart of a shop that is gone: its backlog (waiting and bypassed records) goes
   with it in one call, each record logged as discarded; the other cart's records stay. */
static void retire_a_dead_cart(void) {
    invsync_store *s = NULL;
    invsync_emulator *live = NULL;
    char path[512];
    int32_t gone = -1, other, discarded = -77, rec, i;
    char *text;

    snprintf(path, sizeof path, "%s/retire.db", tmpdir);
    CHECK_STATUS(invsync_store_open(path, &s), INVSYNC_OK);
    if (s == NULL) return;
    CHECK_STATUS(invsync_emulator_start(&live), INVSYNC_OK);
    CHECK_STATUS(invsync_param_set(s, "SynchQOH", "true"), INVSYNC_OK);
    CHECK_STATUS(invsync_param_set(s, "RetryBaseMs", "0"), INVSYNC_OK);
    CHECK_STATUS(invsync_param_set(s, "BypassAfterAttempts", "1"), INVSYNC_OK);
    /* Nothing answers on port 9: the shop is gone. */
    CHECK_STATUS(invsync_cart_upsert(s,
                                     "{\"name\":\"Gone\",\"adapter\":\"http_json\","
                                     "\"url\":\"http://127.0.0.1:9/\","
                                     "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"attribute\"}}",
                                     &gone),
                 INVSYNC_OK);
    other = make_cart(s, live, "Live", "attribute", 50, NULL);
    CHECK_STATUS(invsync_cart_set_sync(s, gone, 1), INVSYNC_OK);
    CHECK_STATUS(invsync_cart_set_sync(s, other, 1), INVSYNC_OK);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"MUG\",\"qoh\":10}"), INVSYNC_OK);
    invsync_emulator_set_qoh(live, "MUG", 10);
    /* One sale tried once (bypassed), two more waiting. */
    CHECK_STATUS(invsync_adjust_qoh(s, "MUG", -1, 2, 0, 0), INVSYNC_OK);
    for (i = 0; i < 20 && count_waiting(s, gone) > 0; i++)
        CHECK_STATUS(invsync_stack_run(s, 0, NULL, 0, NULL), INVSYNC_OK);
    CHECK(count_waiting(s, gone) == 0 && cart_qoh(live, "MUG") == 9);
    CHECK_STATUS(invsync_adjust_qoh(s, "MUG", -1, 2, 0, 0), INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh(s, "MUG", -1, 2, 0, 0), INVSYNC_OK);
    CHECK(count_waiting(s, gone) == 2 && count_waiting(s, other) == 2);
    CHECK_STATUS(invsync_cart_delete(s, gone), INVSYNC_REFUSED);
    CHECK(error_contains("invsync_cart_retire"));

    CHECK_STATUS(invsync_cart_retire(s, gone, NULL), INVSYNC_NULL_POINTER);
    CHECK(count_waiting(s, gone) == 2);
    CHECK_STATUS(invsync_cart_retire(s, gone, &discarded), INVSYNC_OK);
    CHECK(discarded == 3);
    CHECK_STATUS(invsync_cart_retire(s, gone, &discarded), INVSYNC_NOT_FOUND);
    text = stack_list(s, NULL);
    CHECK(text != NULL && strstr(text, "\"cart_id\":2") && !strstr(text, "\"cart_id\":1,"));
    rec = find_record(text, "MUG");
    CHECK(rec > 0);
    free(text);
    CHECK(count_waiting(s, other) == 2);
    CHECK_STATUS(invsync_stack_run(s, 0, NULL, 0, NULL), INVSYNC_OK);
    CHECK(count_waiting(s, 0) == 0 && cart_qoh(live, "MUG") == 7);
    invsync_store_close(s);
    invsync_emulator_stop(live);
}

/* A port on 127.0.0.1 that takes connections (the kernel's backlog: nothing accepts them)
   and never answers: a request sent there goes out and its answer is lost at its time-out.
   Returns the listening socket (closed by the caller), or -1. */
static int silent_server(int *port) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* The owner moves a cart to another platform's adapter while a sale may already be on it:
   sent through the keyed http_json adapter, its answer lost (the shop's server took the
   request and never answered). Only a re-send under the old adapter's key would tell, which
   the new one (WooCommerce) cannot make: invsync_cart_save holds the sale back as uncertain
   and hands the host the count in out_uncertain (1), so the owner knows to check the cart;
   saved again with the same adapter, it holds nothing (0). (tests/doubt_reported.rs from
   Rust.) */
static void save_switching_the_adapter(void) {
    invsync_store *s = NULL;
    char path[512], json[1024];
    int32_t cart = -1, id = -1, uncertain = -1, n = -1, i;
    int port = 0, fd = silent_server(&port);

    CHECK(fd >= 0);
    if (fd < 0) return;
    snprintf(path, sizeof path, "%s/switch.db", tmpdir);
    CHECK_STATUS(invsync_store_open(path, &s), INVSYNC_OK);
    if (s == NULL) {
        close(fd);
        return;
    }
    CHECK_STATUS(invsync_param_set(s, "SynchQOH", "true"), INVSYNC_OK);
    snprintf(json, sizeof json,
             "{\"name\":\"Moved\",\"adapter\":\"http_json\",\"url\":\"http://127.0.0.1:%d/\","
             "\"timeout_ms\":100,"
             "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"attribute\"}}",
             port);
    CHECK_STATUS(invsync_cart_upsert(s, json, &cart), INVSYNC_OK);
    CHECK_STATUS(invsync_cart_set_sync(s, cart, 1), INVSYNC_OK);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"MUG\",\"qoh\":10}"), INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh(s, "MUG", -3, 2, 0, 0), INVSYNC_OK);
    CHECK_STATUS(invsync_stack_run(s, 0, NULL, 0, NULL), INVSYNC_OK);
    CHECK(count_waiting(s, cart) == 1);

    snprintf(json, sizeof json,
             "{\"name\":\"Moved\",\"adapter\":\"woocommerce\",\"url\":\"https://shop.example/\","
             "\"consumer_key\":\"ck_x\",\"consumer_secret\":\"cs_x\","
             "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"attribute\"}}");
    for (i = 0; i < 2; i++) {
        id = -1;
        uncertain = -1;
        CHECK_STATUS(invsync_cart_save(s, json, &id, &uncertain), INVSYNC_OK);
        CHECK(id == cart);
        /* Held back by the first save; nothing more by the second. */
        CHECK(uncertain == (i == 0 ? 1 : 0));
    }
    CHECK_STATUS(invsync_stack_count(s, cart, 3, &n), INVSYNC_OK);
    CHECK(n == 1);
    CHECK(count_waiting(s, cart) == 0);
    invsync_store_close(s);
    close(fd);
}

static int32_t std_progress(void *user, int32_t done, int32_t total) {
    (void)done;
    (void)total;
    ++*(int *)user;
    return 0;
}

static void stdcall_twins(void) {
    invsync_store *s = NULL;
    invsync_emulator *web = NULL;
    char path[512], buf[512];
    int32_t n = 0, out = -1, cart, calls = 0;
    int progress_calls = 0;

    CHECK(invsync_abi_version_std() == INVSYNC_ABI_VERSION);
    snprintf(path, sizeof path, "%s/twins.db", tmpdir);
    CHECK_STATUS(invsync_store_open_std(path, &s), INVSYNC_OK);
    if (s == NULL) return;
    CHECK_STATUS(invsync_param_set_std(s, "Workstation", "TILL-2"), INVSYNC_OK);
    CHECK_STATUS(invsync_param_get_std(s, "Workstation", buf, (int32_t)sizeof buf, &n), INVSYNC_OK);
    CHECK(strcmp(buf, "TILL-2") == 0 && n == 7);
    CHECK_STATUS(invsync_item_upsert_std(s, "{\"sku\":\"A\",\"qoh\":4}"), INVSYNC_OK);
    CHECK_STATUS(invsync_adjust_qoh_std(s, "A", -1, 1, 0, 0), INVSYNC_OK);
    CHECK_STATUS(invsync_item_qoh_std(s, "A", &out), INVSYNC_OK);
    CHECK(out == 3);
    CHECK_STATUS(invsync_item_qoh_std(s, "B", &out), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_last_error_std(buf, (int32_t)sizeof buf, &n), INVSYNC_OK);
    CHECK(strstr(buf, "\"B\"") != NULL);
    CHECK_STATUS(invsync_emulator_start(&web), INVSYNC_OK);
    cart = make_cart(s, web, "Std", "none", 50, NULL);
    CHECK(cart > 0);
    invsync_emulator_set_qoh(web, "A", 0);
    CHECK_STATUS(invsync_send_qoh_std(s, cart, 0, std_progress, &progress_calls, NULL, 0, &n),
                 INVSYNC_OK);
    CHECK(progress_calls >= 1 && cart_qoh(web, "A") == 3);
    CHECK_STATUS(invsync_stack_count_std(s, 0, 1, &calls), INVSYNC_OK);
    CHECK(calls == 0);
    CHECK_STATUS(invsync_cart_upsert_std(s, NULL, &out), INVSYNC_NULL_POINTER);
    CHECK_STATUS(invsync_cart_retire_std(s, 4242, &out), INVSYNC_NOT_FOUND);
    CHECK_STATUS(invsync_cart_retire_std(s, cart, &out), INVSYNC_OK);
    CHECK(out == 0);
    invsync_store_close_std(s);
    invsync_store_close_std(NULL);
    invsync_emulator_stop(web);
}

/* A host closing the handle from the progress callback of a call on it (VBA's DoEvents lets
 * a Close button run there): the call finishes on the handle, which is freed when it returns
 * (a use after free before; LeakSanitizer checks that it is freed). */
static invsync_store *closing_store;
static int32_t INVSYNC_CALL close_from_progress(void *user, int32_t done, int32_t total) {
    (void)done;
    (void)total;
    ++*(int *)user;
    if (closing_store != NULL) {
        invsync_store_close(closing_store);
        closing_store = NULL;
    }
    return 0;
}

static void close_inside_a_call(void) {
    invsync_store *s = NULL;
    invsync_emulator *web = NULL;
    char path[512], buf[2048];
    int32_t n = 0, cart, q = -1;
    int calls = 0;

    snprintf(path, sizeof path, "%s/close-inside.db", tmpdir);
    CHECK_STATUS(invsync_store_open(path, &s), INVSYNC_OK);
    CHECK_STATUS(invsync_emulator_start(&web), INVSYNC_OK);
    if (s == NULL || web == NULL) return;
    cart = make_cart(s, web, "Closing", "none", 1, NULL);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"A\",\"qoh\":1}"), INVSYNC_OK);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"B\",\"qoh\":2}"), INVSYNC_OK);
    CHECK_STATUS(invsync_item_upsert(s, "{\"sku\":\"C\",\"qoh\":3}"), INVSYNC_OK);
    invsync_emulator_set_qoh(web, "A", 0);
    invsync_emulator_set_qoh(web, "B", 0);
    invsync_emulator_set_qoh(web, "C", 0);
    closing_store = s;
    CHECK_STATUS(invsync_send_qoh(s, cart, 0, close_from_progress, &calls, buf,
                                  (int32_t)sizeof buf, &n),
                 INVSYNC_OK);
    CHECK(calls >= 1 && closing_store == NULL);
    CHECK(strstr(buf, "\"sent\":3") != NULL);
    CHECK(cart_qoh(web, "A") == 1 && cart_qoh(web, "B") == 2 && cart_qoh(web, "C") == 3);
    /* The file was let go: a new handle opens it and finds the cart held by no one. */
    s = NULL;
    CHECK_STATUS(invsync_store_open(path, &s), INVSYNC_OK);
    if (s != NULL) {
        CHECK_STATUS(invsync_item_qoh(s, "C", &q), INVSYNC_OK);
        CHECK(q == 3);
        CHECK_STATUS(invsync_send_qoh(s, cart, 0, NULL, NULL, NULL, 0, &n), INVSYNC_OK);
        invsync_store_close(s);
    }
    invsync_emulator_stop(web);
}

int main(void) {
    invsync_store *s = NULL;
    char path[512];
    const char *base = getenv("TMPDIR");

    snprintf(tmpdir, sizeof tmpdir, "%s/invsync-c-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }

    CHECK(invsync_abi_version() == INVSYNC_ABI_VERSION);
    /* No failure yet on this thread: an empty message. */
    {
        int32_t n = -1;
        CHECK_STATUS(invsync_last_error(NULL, 0, &n), INVSYNC_OK);
        CHECK(n == 1);
    }

    scenario();

    snprintf(path, sizeof path, "%s/errors.db", tmpdir);
    CHECK_STATUS(invsync_store_open(path, &s), INVSYNC_OK);
    if (s != NULL) {
        null_pointers(s);
        bad_input(s);
        invsync_store_close(s);
    }
    retire_a_dead_cart();
    save_switching_the_adapter();
    stdcall_twins();
    close_inside_a_call();

    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("c: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
