/*
 * fuzz_zstack.c - libFuzzer target for the Z-stack's handling of frames from
 * the wire (src/zstack.c, zs_sock.c and lwIP, which is built with coverage
 * for this target): an unwired stack owns 10.0.0.2, listens on port 8080
 * and echoes what its connections receive. The input is a script of frames:
 * raw Ethernet frames, TCP segments to the stack (valid Ethernet and IPv4
 * headers built here, the TCP header and payload from the input, the ACK
 * number optionally the stack's last sequence number plus one), ARP
 * requests; each given in one frame or cut into several, as the port hands
 * over a packet longer than a frame. Every frame the stack sends goes through a tap that checks it is
 * a well-formed Ethernet frame from the stack. The stack is closed after
 * each input (and must free everything: LeakSanitizer watches). An empty
 * input is a whole exchange: handshake, a request, its echo, FIN.
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_zstack -max_total_time=60
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "zs_port.h"
#include "zstack.h"

#define OUR_IP 0x0200000au /* 10.0.0.2, network order */
#define PEER_IP 0x0a00000au /* 10.0.0.10 */
static const uint8_t our_mac[6] = { 2, 0, 0, 0, 0, 1 }, peer_mac[6] = { 2, 0, 0, 0, 0, 9 };

static uint32_t last_seq; /* the stack's last sequence number seen (host order) */
static int echoed; /* the stack sent TCP payload */

#define check(ok) \
	do { \
		if (!(ok)) { \
			fprintf(stderr, "fuzz_zstack: %s failed (line %d)\n", #ok, __LINE__); \
			abort(); \
		} \
	} while (0)

static void tap(void *arg, const uint8_t *f, uint32_t len)
{
	(void)arg;
	check(len >= 14 && len <= 1514 + 4);
	check(!memcmp(f + 6, our_mac, 6)); /* always from the stack's MAC */
	if (len >= 14 + 20 + 20 && f[12] == 0x08 && f[13] == 0 && f[23] == 6) {
		uint32_t ihl = (f[14] & 15u) * 4, seq;
		check(ihl >= 20 && 14 + ihl + 20 <= len);
		memcpy(&seq, f + 14 + ihl + 4, 4);
		last_seq = ntohl(seq);
		uint32_t doff = (f[14 + ihl + 12] >> 4) * 4u, tot = (uint32_t)f[16] << 8 | f[17];
		if (tot > ihl + doff)
			echoed = 1;
	}
}

static void on_event(void *arg, unsigned ev)
{
	struct zs_sock *s = arg;
	uint8_t buf[2048];
	ssize_t n;

	(void)ev;
	while ((n = zs_recv(s, buf, sizeof(buf))) > 0) {
		struct iovec iov = { buf, (size_t)n };
		zs_sendv(s, &iov, 1); /* what does not fit is dropped: fine here */
	}
	if (n != -EAGAIN)
		zs_close(s);
}

static int on_accept(void *arg, struct zs_sock *s, const struct sockaddr_in *peer)
{
	(void)arg;
	(void)peer;
	zs_sock_bind(s, on_event, s);
	return 0;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet + IPv4 (proto) from the peer to the stack around l4 (len bytes). */
static uint32_t frame_ip(uint8_t *f, uint8_t proto, const uint8_t *l4, uint32_t len)
{
	uint16_t tot = (uint16_t)(20 + len), c;
	uint32_t src = PEER_IP, dst = OUR_IP;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	memcpy(ip + 20, l4, len);
	return 14 + 20 + len;
}

static uint32_t tcp_segment(uint8_t *f, struct fuzz_in *in, uint32_t *my_seq, int step)
{
	/* The seed: SYN, then ACK with a request, then FIN. */
	static const char req[] = "POST /invoke/x HTTP/1.1\r\n\r\nhi";
	uint8_t t[20 + 40 + 1400];
	uint8_t flags = fin_u8(in, step == 0 ? 0x02 : step == 1 ? 0x18 : 0x11);
	uint16_t sport = fin_u16(in, 40001), win = fin_u16(in, 65535);
	uint32_t seq = fin_u32(in, *my_seq), ack = fin_u32(in, last_seq + 1);
	uint8_t optlen = (uint8_t)(fin_u8(in, 0) % 41) & ~3u;
	uint16_t plen = (uint16_t)(fin_u16(in, step == 1 ? sizeof(req) - 1 : 0) % 1400);

	memset(t, 0, sizeof(t));
	t[0] = (uint8_t)(sport >> 8);
	t[1] = (uint8_t)sport;
	t[2] = 8080 >> 8;
	t[3] = 8080 & 255;
	seq = htonl(seq);
	ack = htonl(ack);
	memcpy(t + 4, &seq, 4);
	memcpy(t + 8, &ack, 4);
	t[12] = (uint8_t)((20 + optlen) / 4) << 4;
	t[13] = flags;
	t[14] = (uint8_t)(win >> 8);
	t[15] = (uint8_t)win;
	fin_bytes(in, t + 20, optlen);
	if (!fin_more(in) && step == 1)
		memcpy(t + 20 + optlen, req, sizeof(req) - 1);
	else
		fin_bytes(in, t + 20 + optlen, plen);
	*my_seq += plen + ((flags & 0x03) ? 1 : 0);
	return frame_ip(f, 6, t, 20 + optlen + plen);
}

static uint32_t arp_request(uint8_t *f, struct fuzz_in *in)
{
	uint32_t src = PEER_IP, dst = OUR_IP;

	memset(f, 0xff, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	uint8_t a[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	memcpy(a + 8, peer_mac, 6);
	memcpy(a + 14, &src, 4);
	memcpy(a + 24, &dst, 4);
	a[7] = fin_u8(in, 1);
	fin_bytes(in, a + 24, 4 * (fin_u8(in, 0) & 1));
	memcpy(f + 14, a, 28);
	return 14 + 28;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zstack_config zc = { .listen_port = 8080, .tap = tap, .addr = OUR_IP };
	struct fuzz_in in = { data, size };
	static uint8_t f[1600];
	struct zstack *zs;
	struct zs_sock *l;
	uint32_t my_seq = 1000;
	struct zstack_stats st;

	check(zstack_open_unwired(&zc, &zs) == 0);
	check(zs_listen(zs, 8080, on_accept, NULL, &l) == 0);
	last_seq = 0;
	echoed = 0;
	/* The seed: ARP (so the stack knows the peer's MAC), SYN, request, FIN. */
	for (int step = 0; step < 64 && (step < 4 || fin_more(&in)); step++) {
		uint32_t len;
		switch (fin_u8(&in, step == 0 ? 3 : 1) % 4) {
		case 0: /* a raw frame */
			len = fin_u16(&in, 60) % (sizeof(f) + 1);
			memset(f, 0, len);
			fin_bytes(&in, f, len);
			break;
		case 1:
		case 2:
			len = tcp_segment(f, &in, &my_seq, step - 1);
			break;
		default:
			len = arp_request(f, &in);
			break;
		}
		/* Mostly one frame; else cut as a packet the port gave in several. */
		uint8_t cut = fin_u8(&in, 0);
		zstack_inject(zs, f, len, cut < 192 ? 1 : 1 + cut % ZS_MAX_FRAGS);
	}
	zstack_stats(zs, &st);
	check(st.conns_open <= st.conns_total);
	check(size > 0 || (st.conns_total == 1 && echoed)); /* the seed is a whole exchange */
	zs_close(l);
	zstack_close(zs);
	return 0;
}
