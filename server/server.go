package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/net/netutil"
	"golang.org/x/sys/unix"
)

// Server owns the UDP and TCP listeners and feeds them to a Handler.
type Server struct {
	h   *Handler
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	udp       []*net.UDPConn
	tcp       []*dns.Server
	tcpAddr   []net.Addr
	wg        sync.WaitGroup
	workers   sync.WaitGroup // the UDP workers; they stop when jobs is closed
	jobs      chan udpJob
	closeJobs sync.Once
}

// New returns a Server for h; Start binds it.
func New(h *Handler, cfg Config) *Server {
	c := cfg.withDefaults()
	return &Server{h: h, cfg: c, log: c.Logger}
}

func defaultReaders() int { return runtime.GOMAXPROCS(0) }

// Start binds every listener (UDP and TCP for each address) and starts serving. It returns
// once all are bound, or the first bind error after closing what was opened.
func (s *Server) Start() error {
	s.jobs = make(chan udpJob, s.cfg.UDPQueue)
	for i := 0; i < s.cfg.UDPReaders; i++ {
		s.workers.Add(1)
		go s.workUDP()
	}
	for _, addr := range s.cfg.Listen {
		if err := s.listen(addr); err != nil {
			s.Shutdown(context.Background())
			return err
		}
	}
	return nil
}

// listen binds UDP and TCP on addr. With port 0 the kernel picks a free UDP port and TCP
// takes the same number, so that one address serves both transports, as clients retrying a
// truncated answer expect; another process may hold that TCP port, so the pair is tried
// again with a fresh port a few times before giving up.
func (s *Server) listen(addr string) error {
	ap, perr := netip.ParseAddrPort(addr)
	anyPort := perr == nil && ap.Port() == 0
	for attempt := 1; ; attempt++ {
		conns, err := s.openUDP(addr)
		if err != nil {
			return err
		}
		tcpAddr := addr
		if anyPort {
			tcpAddr = conns[0].LocalAddr().String()
		}
		if err = s.listenTCP(tcpAddr); err == nil {
			s.serveUDP(conns)
			return nil
		}
		for _, c := range conns {
			c.Close()
		}
		if !anyPort || attempt == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
	}
}

// openUDP opens cfg.UDPReaders SO_REUSEPORT sockets on addr, so that the kernel spreads
// queries over one reader goroutine per core.
func (s *Server) openUDP(addr string) ([]*net.UDPConn, error) {
	// SO_REUSEPORT lets any socket of the same user join the port, another process included,
	// and the kernel would then split our queries with it. So the port is first taken
	// without the option: if anyone holds it, that fails (address in use), as it should.
	probe, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", addr, err)
	}
	// Port 0 picks a port: the readers' sockets take the one the probe got.
	bound := probe.LocalAddr().String()
	probe.Close()
	lc := net.ListenConfig{Control: reusePort}
	var conns []*net.UDPConn
	for i := 0; i < s.cfg.UDPReaders; i++ {
		c, err := lc.ListenPacket(context.Background(), "udp", bound)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("listen udp %s (reader %d): %w", bound, i, err)
		}
		uc := c.(*net.UDPConn)
		// A burst that arrives while the reader is off the CPU waits in the socket; the
		// kernel's default (about 200 KiB) holds a few hundred queries. The kernel caps this
		// at net.core.rmem_max, and a smaller buffer is no reason to refuse to serve.
		_ = uc.SetReadBuffer(udpReadBuffer)
		conns = append(conns, uc)
	}
	return conns, nil
}

// serveUDP starts a reader on each of conns.
func (s *Server) serveUDP(conns []*net.UDPConn) {
	s.mu.Lock()
	s.udp = append(s.udp, conns...)
	s.mu.Unlock()
	for _, c := range conns {
		s.wg.Add(1)
		go s.readUDP(c)
	}
}

// udpReadBuffer is the receive buffer asked for each UDP socket.
const udpReadBuffer = 4 << 20

func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// udpJob is a query that missed the packet cache, waiting for a worker.
type udpJob struct {
	pc   batchConn // the socket it came in on, where the answer goes out
	from net.Addr
	msg  []byte
}

// batchSize is how many datagrams one recvmmsg/sendmmsg call moves. Under load a reader
// finds many queries waiting and answers them with two system calls instead of two each.
const batchSize = 64

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share (their Message types are one).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// readUDP serves one socket. Queries are read in batches (recvmmsg); one whose answer is in
// the packet cache is answered inline, with no goroutine and no allocation of ours, and the
// answers go out in one batch (sendmmsg); parallelism comes from one socket per core. Other
// queries go to the workers through a bounded queue: when signing cannot keep up (a flood of
// random names, each needing a fresh signature), the queue fills and those queries are
// dropped, while cached answers keep flowing from the readers.
func (s *Server) readUDP(c *net.UDPConn) {
	defer s.wg.Done()
	var pc batchConn
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil {
		pc = ipv4.NewPacketConn(c)
	} else {
		pc = ipv6.NewPacketConn(c)
	}
	in := make([]ipv4.Message, batchSize)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, dns.MaxMsgSize)}
	}
	out := make([]ipv4.Message, batchSize)
	bufs := make([][]byte, batchSize)
	for i := range out {
		bufs[i] = make([]byte, 0, 4096)
		out[i].Buffers = [][]byte{nil}
	}
	for {
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("udp read", "err", err)
			continue
		}
		k := s.answerCached(pc, in[:n], out, bufs)
		s.writeBatch(pc, out[:k])
	}
}

// answerCached answers the queries of a batch that the packet cache can answer, into out and
// bufs (one buffer per answer, kept if an answer grew it), and queues the others for the
// workers. It returns how many answers out holds.
func (s *Server) answerCached(pc batchConn, in, out []ipv4.Message, bufs [][]byte) int {
	k := 0
	for i := range in {
		m := &in[i]
		q := m.Buffers[0][:m.N]
		if resp := s.h.cachedUDP(q, bufs[k][:0], m.Addr); resp != nil {
			s.h.observe(udp, m.Addr, resp, true)
			bufs[k] = resp[:0]
			if resp = s.h.limitUDP(m.Addr, q, resp); resp != nil {
				out[k].Buffers[0], out[k].Addr = resp, m.Addr
				k++
			}
			continue
		}
		// This copy is the one allocation a miss adds; misses cost a lookup and often a
		// signature, tens of microseconds, so it is noise.
		job := udpJob{pc: pc, from: m.Addr, msg: append([]byte(nil), q...)}
		select {
		case s.jobs <- job:
		default:
			s.h.metrics.queueDrops.Inc()
		}
	}
	return k
}

// writeBatch sends ms, skipping a datagram the kernel refuses (an ICMP error, say).
func (s *Server) writeBatch(pc batchConn, ms []ipv4.Message) {
	for len(ms) > 0 {
		n, err := pc.WriteBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("udp write", "to", ms[0].Addr, "err", err)
			n = max(n, 1)
		}
		ms = ms[n:]
	}
}

// workUDP answers the queries the readers could not answer from the packet cache. It takes
// what is waiting (up to a batch) before it sends, so that under load the answers leave in
// one sendmmsg: a system call per answer cost as much as a fifth of a signature here.
func (s *Server) workUDP() {
	defer s.workers.Done()
	w := &udpWorker{s: s, out: make([]ipv4.Message, 0, batchSize), pcs: make([]batchConn, 0, batchSize), bufs: make([][]byte, batchSize)}
	for i := range w.bufs {
		w.bufs[i] = make([]byte, 0, 4096)
	}
	for job := range s.jobs {
		w.handle(job)
	more:
		for len(w.out) < batchSize {
			select {
			case job, ok := <-s.jobs:
				if !ok {
					break more
				}
				w.handle(job)
			default:
				break more
			}
		}
		w.flush()
	}
}

// udpWorker is one worker's batch of answers waiting to be sent, with the socket of each.
type udpWorker struct {
	s    *Server
	out  []ipv4.Message
	pcs  []batchConn
	bufs [][]byte // one answer buffer per slot of out, kept if an answer grew it
}

// handle answers one query into the batch (NOTIFY to the transfers, the rest through the
// pipeline); a query that gets no answer, or whose answer the rate limit drops, adds nothing.
func (w *udpWorker) handle(job udpJob) {
	h := w.s.h
	i := len(w.out)
	var resp []byte
	notify := false
	if t := h.cfg.Transfers; t != nil && isNotify(job.msg) {
		resp, notify = t.NotifyUDP(job.msg, job.from), true
	} else {
		resp = h.servePacket(job.msg, w.bufs[i][:0], udp, addrOf(job.from))
	}
	if resp == nil {
		return
	}
	h.observe(udp, job.from, resp, false)
	w.bufs[i] = resp[:0]
	if !notify {
		// NOTIFY answers go to a zone's primaries only; they are not limited.
		if resp = h.limitUDP(job.from, job.msg, resp); resp == nil {
			return
		}
	}
	w.out = append(w.out, ipv4.Message{Buffers: [][]byte{resp}, Addr: job.from})
	w.pcs = append(w.pcs, job.pc)
}

// flush sends the batch, each socket's answers together (usually there is one socket per
// core), and empties it.
func (w *udpWorker) flush() {
	out, pcs := w.out, w.pcs
	for start := 0; start < len(out); {
		end := start + 1
		for end < len(out) && pcs[end] == pcs[start] {
			end++
		}
		w.s.writeBatch(pcs[start], out[start:end])
		start = end
	}
	w.out, w.pcs = out[:0], pcs[:0]
}

func (s *Server) listenTCP(addr string) error {
	lc := net.ListenConfig{}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen tcp %s: %w", addr, err)
	}
	srv := &dns.Server{
		Listener:      netutil.LimitListener(limitPerClient(ln, s.cfg.MaxTCPConnsPerClient, s.h.metrics.tcpRefused), s.cfg.MaxTCPConns),
		Handler:       tcpHandler{s.h},
		ReadTimeout:   s.cfg.TCPReadTimeout,
		IdleTimeout:   func() time.Duration { return s.cfg.TCPIdleTimeout },
		MaxTCPQueries: s.cfg.MaxTCPQueries,
		MsgAcceptFunc: acceptQuery,
	}
	if t := s.cfg.Transfers; t != nil {
		srv.TsigSecret = t.TsigSecrets()
	}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	s.mu.Lock()
	s.tcp = append(s.tcp, srv)
	s.tcpAddr = append(s.tcpAddr, ln.Addr())
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.ActivateAndServe(); err != nil {
			s.log.Error("tcp server stopped", "addr", ln.Addr(), "err", err)
		}
	}()
	<-started
	return nil
}

// acceptQuery lets every query through to the handler, which answers NOTIMP or FORMERR
// itself; only responses are dropped (answering them invites reflection loops).
func acceptQuery(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&(1<<15) != 0 {
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}

// tcpHandler adapts the Handler to miekg/dns's TCP server, which does the RFC 7766 framing,
// idle timeouts and per-connection query limits.
type tcpHandler struct{ h *Handler }

func (t tcpHandler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if x := t.h.cfg.Transfers; x != nil && (req.Opcode == dns.OpcodeNotify || isTransfer(req)) {
		x.ServeTCP(w, req)
		return
	}
	if req.IsTsig() != nil {
		t.h.signedTCP(w, req)
		return
	}
	var resp []byte
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.h.metrics.servfail(causePanic)
				t.h.cfg.Logger.Error("panic answering tcp query", "panic", fmt.Sprint(r))
				m := new(dns.Msg)
				m.SetRcode(req, dns.RcodeServerFailure)
				resp, _ = m.Pack()
			}
		}()
		m, size, _ := t.h.respond(req, tcp, addrOf(w.RemoteAddr()))
		resp = t.h.pack(m, size, make([]byte, 0, 4096), nil, tcp)
	}()
	if resp != nil {
		t.h.observe(tcp, w.RemoteAddr(), resp, false)
		w.Write(resp)
	}
}

// UDPAddrs and TCPAddrs report the bound addresses (useful with port 0).
func (s *Server) UDPAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	seen := map[string]bool{}
	for _, c := range s.udp {
		a := c.LocalAddr()
		if !seen[a.String()] {
			seen[a.String()] = true
			out = append(out, a)
		}
	}
	return out
}

// TCPAddrs reports the bound TCP addresses.
func (s *Server) TCPAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.tcpAddr...)
}

// Shutdown stops accepting queries, lets in-flight TCP queries finish within ctx (or
// cfg.ShutdownTimeout), and closes every socket.
func (s *Server) Shutdown(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		defer cancel()
	}
	s.mu.Lock()
	srvs := append([]*dns.Server(nil), s.tcp...)
	s.mu.Unlock()
	var errs []error
	for _, srv := range srvs {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.closeAll()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		// The readers are gone: nothing sends on jobs any more.
		s.closeJobs.Do(func() { close(s.jobs) })
		s.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.udp {
		c.Close()
	}
}

// isNotify reports whether a packet is a NOTIFY request (opcode 4, QR clear).
func isNotify(p []byte) bool {
	return len(p) >= headerSize && p[2]&0x80 == 0 && (p[2]>>3)&0xF == dns.OpcodeNotify
}

// isIXFR reports whether a query asks for an incremental zone transfer.
func isIXFR(req *dns.Msg) bool {
	return req.Opcode == dns.OpcodeQuery && len(req.Question) == 1 && req.Question[0].Qtype == dns.TypeIXFR
}

// isTransfer reports whether a query asks for a zone transfer.
func isTransfer(req *dns.Msg) bool {
	return req.Opcode == dns.OpcodeQuery && len(req.Question) == 1 &&
		(req.Question[0].Qtype == dns.TypeAXFR || req.Question[0].Qtype == dns.TypeIXFR)
}
