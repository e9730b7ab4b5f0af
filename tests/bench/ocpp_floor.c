/* ocpp_floor: the least an OCPP-J server can do per message, to measure what
 * the machine itself costs per round trip (mostly the kernel's TCP work on
 * loopback) under ocpp_load's load.
 *
 *   ocpp_floor PORT        listen on 127.0.0.1:PORT until killed
 *
 * One thread, epoll, level-triggered. It accepts the WebSocket upgrade
 * (offering back ocpp2.0.1), and answers every complete text frame at once
 * with a CALLRESULT for its message id: BootNotification with Accepted,
 * anything else with {}. No JSON parsing, no validation, no state: a
 * diagnostic, not a server. Frames must fit its 8 KiB buffer and use the
 * 7- or 16-bit length forms (ocpp_load's do). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 8192

struct conn {
    int fd;
    int upgraded;
    size_t n;
    unsigned char b[BUF];
};

static void drop(struct conn *c)
{
    close(c->fd);
    free(c);
}

/* The HTTP upgrade; 0 while the request is incomplete, -1 on a bad one. */
static int upgrade(struct conn *c)
{
    if (!memmem(c->b, c->n, "\r\n\r\n", 4))
        return c->n == BUF ? -1 : 0;
    c->b[c->n < BUF ? c->n : BUF - 1] = '\0';
    const char *k = strcasestr((char *)c->b, "Sec-WebSocket-Key: ");
    if (!k)
        return -1;
    k += 19;
    size_t kl = strcspn(k, "\r\n");
    char key[128];
    if (kl > 60)
        return -1;
    snprintf(key, sizeof(key), "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)kl, k);
    unsigned char h[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)key, strlen(key), h);
    char acc[64];
    EVP_EncodeBlock((unsigned char *)acc, h, SHA_DIGEST_LENGTH);
    char out[256];
    int ol = snprintf(out, sizeof(out),
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                      "Sec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n",
                      acc);
    if (send(c->fd, out, (size_t)ol, MSG_NOSIGNAL) != ol)
        return -1;
    c->upgraded = 1;
    c->n = 0;
    return 1;
}

/* Answer every complete frame in the buffer; -1 to drop the connection. */
static int frames(struct conn *c)
{
    size_t off = 0;
    while (c->n - off >= 2) {
        unsigned char *b = c->b + off;
        size_t len = b[1] & 0x7f, hdr = 2;
        if (len == 127 || !(b[1] & 0x80))
            return -1; /* 64-bit length or unmasked: not from ocpp_load */
        if (len == 126) {
            if (c->n - off < 4)
                break;
            len = (size_t)b[2] << 8 | b[3];
            hdr = 4;
        }
        if (c->n - off < hdr + 4 + len)
            break;
        unsigned char *mask = b + hdr, *p = b + hdr + 4;
        for (size_t i = 0; i < len; i++)
            p[i] ^= mask[i & 3];
        if ((b[0] & 0x0f) == 1 && len > 4) {
            const unsigned char *q = memchr(p + 4, '"', len - 4);
            int il = q ? (int)(q - p - 4) : 0;
            char out[256];
            int body =
                memmem(p, len, "BootNotification", 16)
                    ? snprintf(out + 2, sizeof(out) - 2,
                               "[3,\"%.*s\",{\"currentTime\":\"2026-01-01T00:00:00Z\","
                               "\"interval\":300,\"status\":\"Accepted\"}]",
                               il, p + 4)
                    : snprintf(out + 2, sizeof(out) - 2, "[3,\"%.*s\",{}]", il, p + 4);
            if (body < 0 || body > 125)
                return -1;
            out[0] = (char)0x81;
            out[1] = (char)body;
            if (send(c->fd, out, (size_t)body + 2, MSG_NOSIGNAL) != body + 2)
                return -1;
        }
        off += hdr + 4 + len;
    }
    if (off == 0 && c->n == BUF)
        return -1; /* a frame larger than the buffer */
    memmove(c->b, c->b + off, c->n - off);
    c->n -= off;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ocpp_floor PORT\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4096)) {
        perror("ocpp_floor: listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[512];
    for (;;) {
        int k = epoll_wait(ep, evs, 512, -1);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    c = calloc(1, sizeof(*c));
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            ssize_t r = recv(c->fd, c->b + c->n, BUF - c->n, 0);
            if (r <= 0) {
                drop(c);
                continue;
            }
            c->n += (size_t)r;
            int rc = c->upgraded ? frames(c) : upgrade(c);
            if (rc < 0)
                drop(c);
        }
    }
}
