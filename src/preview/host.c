/* host.c — the addresses of a preview server: parsing --host, telling loopback from the rest,
 * and checking a request's Host header against the bound address, which is what defeats DNS
 * rebinding (a page on attacker.example whose name now resolves to 127.0.0.1 still sends
 * "Host: attacker.example").  Pure functions (see preview.h). */
#include "perfweave/preview.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static unsigned bound_port(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) return ntohs(((const struct sockaddr_in *)(const void *)addr)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)(const void *)addr)->sin6_port);
}

bool pw_preview_is_loopback(const struct sockaddr *addr)
{
    if (!addr) return false;
    if (addr->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)(const void *)addr)->sin_addr.s_addr);
        return (a >> 24) == 127;
    }
    if (addr->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

static bool is_wildcard(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)addr)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr);
}

/* Whether the literal (an IPv4 dotted quad, or IPv6 without brackets) names the bound address. */
static bool literal_matches(const char *lit, const struct sockaddr *addr, bool *is_literal)
{
    struct in_addr a4;
    struct in6_addr a6;
    *is_literal = true;
    if (inet_pton(AF_INET, lit, &a4) == 1) {
        if (addr->sa_family == AF_INET)
            return memcmp(&a4, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, sizeof a4) == 0;
        return false;
    }
    if (inet_pton(AF_INET6, lit, &a6) == 1) {
        if (addr->sa_family == AF_INET6)
            return memcmp(&a6, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, sizeof a6) == 0;
        return false;
    }
    *is_literal = false;
    return false;
}

bool pw_preview_host_allowed(const char *host, const struct sockaddr *addr)
{
    if (!host || !*host || !addr || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) return false;
    char name[128];
    const char *port_text = NULL;
    size_t hlen = strlen(host);
    if (hlen >= sizeof name) return false;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close) return false;
        size_t n = (size_t)(close - host - 1);
        memcpy(name, host + 1, n);
        name[n] = '\0';
        if (close[1] == ':') port_text = close + 2;
        else if (close[1] != '\0') return false;
        if (!strchr(name, ':')) return false; /* brackets are for IPv6 only */
    } else {
        const char *colon = strchr(host, ':');
        if (colon && strchr(colon + 1, ':')) return false; /* IPv6 without brackets */
        size_t n = colon ? (size_t)(colon - host) : hlen;
        memcpy(name, host, n);
        name[n] = '\0';
        if (colon) port_text = colon + 1;
    }
    unsigned port = 80;
    if (port_text) {
        size_t n = strlen(port_text);
        if (n == 0 || n > 5 || port_text[0] == '0' || strspn(port_text, "0123456789") != n) return false;
        port = (unsigned)strtoul(port_text, NULL, 10);
    }
    if (port != bound_port(addr) || !*name) return false;
    if (strcasecmp(name, "localhost") == 0) return pw_preview_is_loopback(addr) || is_wildcard(addr);
    bool literal;
    bool same = literal_matches(name, addr, &literal);
    if (!literal) return false;       /* a host name: what DNS rebinding sends */
    return same || is_wildcard(addr); /* bound to every address: any address of ours is fine */
}

int pw_preview_parse_address(const char *host, unsigned port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (!host || port > 65535) return -1;
    if (strcasecmp(host, "localhost") == 0) host = "127.0.0.1";
    struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
    char bare[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof bare) {
        memcpy(bare, host + 1, n - 2);
        bare[n - 2] = '\0';
        host = bare;
    }
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return -1;
}

void pw_preview_format_address(const struct sockaddr *addr, char *buf, size_t cap)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (cap == 0) return;
    if (addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, text, sizeof text);
        snprintf(buf, cap, "%s:%u", text, bound_port(addr));
    } else if (addr->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, text, sizeof text);
        snprintf(buf, cap, "[%s]:%u", text, bound_port(addr));
    } else {
        snprintf(buf, cap, "?");
    }
}
