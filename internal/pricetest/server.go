// Package pricetest is a metered price server for tests: Aperture's
// extended pricesrpc over a real gRPC listener on 127.0.0.1, with token
// bundles kept in memory, behaving as Aperture's reference meterd does
// (docs/metering.md), so that serve can be driven the way an Aperture
// price server drives Aperture.
package pricetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/l402/l402/internal/prices/pricesrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Rates is a model's price in millisatoshis per input and output token.
type Rates struct {
	InputMsat, OutputMsat int64
}

// Config is what the server sells.
type Config struct {
	// Models are the models sold, by name. A request that names no model
	// is sold Default; one that names a model not here is refused with
	// InvalidArgument.
	Models  map[string]Rates
	Default string

	// BundleTokens is the size of a bundle, in tokens.
	BundleTokens int64

	// EstimateTokens is the reservation for a request without
	// max_tokens, and the debit for a stream abandoned before its usage.
	EstimateTokens int64

	// NoSessions answers QuoteSession and SettleSession Unimplemented,
	// as a price server written before Aperture's session calls does.
	NoSessions bool
}

// Bundle is one booked bundle.
type Bundle struct {
	Model     string
	PriceSats int64
	Remaining int64
	Reserved  int64
	Used      bool
}

// Server is a running metered price server. Its methods are safe for
// concurrent use.
type Server struct {
	pricesrpc.UnimplementedPricesServer

	cfg  Config
	addr string

	mu      sync.Mutex
	gs      *grpc.Server
	bundles map[string]*Bundle
	calls   map[string]int
	reports []*pricesrpc.ReportUsageRequest
	fail    error
	failN   int
}

// Start serves cfg's bundles on a random port of 127.0.0.1 until Stop.
func Start(cfg Config) (*Server, error) {
	if _, ok := cfg.Models[cfg.Default]; !ok {
		return nil, fmt.Errorf("pricetest: the default model %q has "+
			"no rates", cfg.Default)
	}
	if cfg.BundleTokens <= 0 || cfg.EstimateTokens <= 0 {
		return nil, fmt.Errorf("pricetest: bundle and estimate must be "+
			"positive, not %d and %d", cfg.BundleTokens,
			cfg.EstimateTokens)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pricetest: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		addr:    lis.Addr().String(),
		bundles: make(map[string]*Bundle),
		calls:   make(map[string]int),
	}
	s.serve(lis)

	return s, nil
}

// serve answers on lis in the background.
func (s *Server) serve(lis net.Listener) {
	gs := grpc.NewServer()
	pricesrpc.RegisterPricesServer(gs, s)

	s.mu.Lock()
	s.gs = gs
	s.mu.Unlock()

	go func() { _ = gs.Serve(lis) }()
}

// Addr is the host:port to put in dynamicprice.grpcaddress.
func (s *Server) Addr() string { return s.addr }

// Stop stops serving: the price server is down. Its bundles are kept.
func (s *Server) Stop() {
	s.mu.Lock()
	gs := s.gs
	s.gs = nil
	s.mu.Unlock()

	if gs != nil {
		gs.Stop()
	}
}

// Restart serves again on the same address after Stop.
func (s *Server) Restart() error {
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("pricetest: listen again on %s: %w", s.addr, err)
	}
	s.serve(lis)

	return nil
}

// Fail makes every call answer err from now on (nil: answer again).
func (s *Server) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.fail = err
}

// FailNext makes the next n calls answer err, then answers again.
func (s *Server) FailNext(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.fail, s.failN = err, n
}

// Bundle returns a copy of the bundle booked under key.
func (s *Server) Bundle(key string) (Bundle, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	b, ok := s.bundles[key]
	if !ok {
		return Bundle{}, false
	}
	return *b, true
}

// Keys returns the keys of every booked bundle.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()

	keys := make([]string, 0, len(s.bundles))
	for k := range s.bundles {
		keys = append(keys, k)
	}
	return keys
}

// Calls returns how many times method was called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.calls[method]
}

// Reports returns the usage reports received so far.
func (s *Server) Reports() []*pricesrpc.ReportUsageRequest {
	s.mu.Lock()
	defer s.mu.Unlock()

	return append([]*pricesrpc.ReportUsageRequest(nil), s.reports...)
}

// enter counts a call and returns the scripted failure, under the lock the
// caller then holds.
func (s *Server) enter(method string) error {
	s.mu.Lock()
	s.calls[method]++
	err := s.fail
	if s.failN > 0 {
		if s.failN--; s.failN == 0 {
			s.fail = nil
		}
	}
	return err
}

// model resolves the model a request names.
func (s *Server) model(text string) (string, Rates, error) {
	name := parseRequest(text).Model
	if name == "" {
		name = s.cfg.Default
	}
	rates, ok := s.cfg.Models[name]
	if !ok {
		return "", Rates{}, status.Errorf(codes.InvalidArgument,
			"model %q is not sold here", name)
	}
	return name, rates, nil
}

// estimate is a request's reservation: its max_tokens, else the default.
func (s *Server) estimate(text string) int64 {
	if n := parseRequest(text).MaxTokens; n > 0 {
		return n
	}
	return s.cfg.EstimateTokens
}

// blendedSats prices tokens at the mean of the two rates, rounded up.
func blendedSats(tokens int64, r Rates) int64 {
	return (tokens*(r.InputMsat+r.OutputMsat) + 1999) / 2000
}

// GetPrice quotes a bundle of the request's model.
func (s *Server) GetPrice(_ context.Context,
	req *pricesrpc.GetPriceRequest) (*pricesrpc.GetPriceResponse, error) {

	err := s.enter("GetPrice")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}

	_, rates, err := s.model(req.GetHttpRequestText())
	if err != nil {
		return nil, err
	}
	return &pricesrpc.GetPriceResponse{
		PriceSats: blendedSats(s.cfg.BundleTokens, rates),
	}, nil
}

// ChallengeMinted books a bundle under the token ID, once.
func (s *Server) ChallengeMinted(_ context.Context,
	req *pricesrpc.ChallengeMintedRequest) (*pricesrpc.ChallengeMintedResponse,
	error) {

	err := s.enter("ChallengeMinted")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}

	model, _, err := s.model(req.GetHttpRequestText())
	if err != nil {
		return nil, err
	}
	if req.GetTokenId() == "" {
		return nil, status.Error(codes.InvalidArgument, "no token_id")
	}
	if _, ok := s.bundles[req.GetTokenId()]; !ok {
		s.bundles[req.GetTokenId()] = &Bundle{Model: model,
			PriceSats: req.GetPriceSats(), Remaining: s.cfg.BundleTokens}
	}
	return &pricesrpc.ChallengeMintedResponse{}, nil
}

// AuthorizeRequest admits a request while its bundle has tokens left after
// the reservations of requests in flight, and reserves its estimate; it
// refuses an unknown key, a spent bundle and another model, naming the
// price of the next bundle.
func (s *Server) AuthorizeRequest(_ context.Context,
	req *pricesrpc.AuthorizeRequestRequest) (
	*pricesrpc.AuthorizeRequestResponse, error) {

	err := s.enter("AuthorizeRequest")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}

	model, rates, err := s.model(req.GetHttpRequestText())
	if err != nil {
		return s.deny(s.cfg.Models[s.cfg.Default], err.Error()), nil
	}
	b, ok := s.bundles[req.GetTokenId()]
	switch {
	case !ok:
		return s.deny(rates, "unknown token"), nil
	case b.Model != model:
		return s.deny(rates, fmt.Sprintf("the bundle is for %s, not %s",
			b.Model, model)), nil
	case b.Remaining-b.Reserved <= 0:
		return s.deny(rates, "bundle exhausted"), nil
	}

	est := s.estimate(req.GetHttpRequestText())
	b.Reserved += est
	b.Used = true
	return &pricesrpc.AuthorizeRequestResponse{Allowed: true,
		ReservedEstimate: est}, nil
}

// deny refuses a request and quotes the next bundle.
func (s *Server) deny(rates Rates, reason string) *pricesrpc.AuthorizeRequestResponse {
	return &pricesrpc.AuthorizeRequestResponse{
		PriceSats: blendedSats(s.cfg.BundleTokens, rates),
		Reason:    reason,
	}
}

// ReportUsage debits a bundle by the usage in the response's tail, each
// direction at its own rate, rounded up, and releases the reservation. A
// stream abandoned before its usage, with some body, costs its
// reservation; a tail without usage otherwise costs nothing.
func (s *Server) ReportUsage(_ context.Context,
	req *pricesrpc.ReportUsageRequest) (*pricesrpc.ReportUsageResponse, error) {

	err := s.enter("ReportUsage")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.reports = append(s.reports, req)

	b, ok := s.bundles[req.GetTokenId()]
	if !ok {
		return &pricesrpc.ReportUsageResponse{}, nil
	}
	rates := s.cfg.Models[b.Model]
	release := req.GetReservedEstimate()
	if release <= 0 {
		release = s.cfg.EstimateTokens
	}
	b.Reserved = max(b.Reserved-release, 0)

	var debit, msat int64
	u, found := extractUsage(req.GetContentType(), req.GetResponseTail())
	ok2xx := req.GetHttpStatus() >= 200 && req.GetHttpStatus() < 300
	switch {
	case found && u.split:
		msat = u.prompt*rates.InputMsat + u.completion*rates.OutputMsat
		debit = (2*msat + rates.InputMsat + rates.OutputMsat - 1) /
			(rates.InputMsat + rates.OutputMsat)
	case found:
		debit = u.total
		msat = (u.total*(rates.InputMsat+rates.OutputMsat) + 1) / 2
	case !req.GetComplete() && ok2xx && len(req.GetResponseTail()) > 0:
		debit = release
		msat = (release*(rates.InputMsat+rates.OutputMsat) + 1) / 2
	}
	b.Remaining = max(b.Remaining-debit, 0)

	return &pricesrpc.ReportUsageResponse{
		DebitedSats:   (msat + 999) / 1000,
		RemainingSats: b.Remaining * (rates.InputMsat + rates.OutputMsat) / 2000,
	}, nil
}

// QuoteSession prices one request at the blended rate of its estimate.
func (s *Server) QuoteSession(_ context.Context,
	req *pricesrpc.QuoteSessionRequest) (*pricesrpc.QuoteSessionResponse, error) {

	err := s.enter("QuoteSession")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if s.cfg.NoSessions {
		return nil, status.Error(codes.Unimplemented,
			"method QuoteSession not implemented")
	}

	_, rates, err := s.model(req.GetHttpRequestText())
	if err != nil {
		return nil, err
	}
	return &pricesrpc.QuoteSessionResponse{
		UnitPriceSats: blendedSats(s.estimate(req.GetHttpRequestText()), rates),
	}, nil
}

// SettleSession costs a session request by its usage, each direction at its
// own rate, rounded up; without usage it costs the estimate.
func (s *Server) SettleSession(_ context.Context,
	req *pricesrpc.SettleSessionRequest) (*pricesrpc.SettleSessionResponse,
	error) {

	err := s.enter("SettleSession")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if s.cfg.NoSessions {
		return nil, status.Error(codes.Unimplemented,
			"method SettleSession not implemented")
	}

	u, found := extractUsage(req.GetContentType(), req.GetResponseTail())
	_, rates, err := s.model(req.GetHttpRequestText())
	if !found || err != nil {
		return &pricesrpc.SettleSessionResponse{
			CostSats: req.GetEstimateSats()}, nil
	}

	msat := (u.total*(rates.InputMsat+rates.OutputMsat) + 1) / 2
	if u.split {
		msat = u.prompt*rates.InputMsat + u.completion*rates.OutputMsat
	}
	return &pricesrpc.SettleSessionResponse{CostSats: (msat + 999) / 1000}, nil
}

// Handler is a small OpenAI-style backend for the tests that drive serve
// with this server: POST answers a JSON completion whose usage is
// prompt+completion tokens as the X-Usage header ("p,c") says, default
// 10,20; with "stream":true in the body it answers SSE chunks and a final
// usage chunk.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, c := int64(10), int64(20)
		if v := r.Header.Get("X-Usage"); v != "" {
			if _, err := fmt.Sscanf(v, "%d,%d", &p, &c); err != nil {
				http.Error(w, "bad X-Usage", http.StatusBadRequest)
				return
			}
		}
		var body struct {
			Stream bool `json:"stream"`
		}
		_ = decodeJSON(r, &body)

		usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,`+
			`"total_tokens":%d}`, p, c, p+c)
		if !body.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c1","choices":[{"message":`+
				`{"content":"hello"}}],"usage":%s}`, usage)
			return
		}

		w.Header().Set("Content-Type", "text/event-stream")
		flusher, _ := w.(http.Flusher)
		for _, word := range []string{"hel", "lo"} {
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":"+
				"{\"content\":%q}}]}\n\n", word)
			if flusher != nil {
				flusher.Flush()
			}
		}
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":%s}\n\n", usage)
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
}
