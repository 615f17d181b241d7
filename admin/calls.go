package admin

import (
	"context"

	"github.com/l402/l402/internal/adminrpc"
)

// Health is GetHealth (it needs no macaroon).
func (c *Client) Health(ctx context.Context) (*adminrpc.GetHealthResponse,
	error) {

	return call(ctx, c, func(ctx context.Context) (
		*adminrpc.GetHealthResponse, error) {
		return c.rpc.GetHealth(ctx, &adminrpc.GetHealthRequest{})
	})
}

// Info is GetInfo.
func (c *Client) Info(ctx context.Context) (*adminrpc.GetInfoResponse,
	error) {

	return call(ctx, c, func(ctx context.Context) (
		*adminrpc.GetInfoResponse, error) {
		return c.rpc.GetInfo(ctx, &adminrpc.GetInfoRequest{})
	})
}

// Services is ListServices.
func (c *Client) Services(ctx context.Context) (
	*adminrpc.ListServicesResponse, error) {

	return call(ctx, c, func(ctx context.Context) (
		*adminrpc.ListServicesResponse, error) {
		return c.rpc.ListServices(ctx, &adminrpc.ListServicesRequest{})
	})
}

// CreateService is CreateService.
func (c *Client) CreateService(ctx context.Context,
	req *adminrpc.CreateServiceRequest) (*adminrpc.Service, error) {

	return call(ctx, c, func(ctx context.Context) (*adminrpc.Service,
		error) {
		return c.rpc.CreateService(ctx, req)
	})
}

// UpdateService is UpdateService: only the fields set change.
func (c *Client) UpdateService(ctx context.Context,
	req *adminrpc.UpdateServiceRequest) (*adminrpc.Service, error) {

	return call(ctx, c, func(ctx context.Context) (*adminrpc.Service,
		error) {
		return c.rpc.UpdateService(ctx, req)
	})
}

// DeleteService is DeleteService.
func (c *Client) DeleteService(ctx context.Context, name string) (
	*adminrpc.DeleteServiceResponse, error) {

	return call(ctx, c, func(ctx context.Context) (
		*adminrpc.DeleteServiceResponse, error) {
		return c.rpc.DeleteService(ctx,
			&adminrpc.DeleteServiceRequest{Name: name})
	})
}

// Transactions is ListTransactions.
func (c *Client) Transactions(ctx context.Context,
	req *adminrpc.ListTransactionsRequest) (
	*adminrpc.ListTransactionsResponse, error) {

	return call(ctx, c, func(ctx context.Context) (
		*adminrpc.ListTransactionsResponse, error) {
		return c.rpc.ListTransactions(ctx, req)
	})
}

// Tokens is ListTokens.
func (c *Client) Tokens(ctx context.Context, limit, offset int32) (
	*adminrpc.ListTokensResponse, error) {

	return call(ctx, c, func(ctx context.Context) (
		*adminrpc.ListTokensResponse, error) {
		return c.rpc.ListTokens(ctx, &adminrpc.ListTokensRequest{
			Limit: limit, Offset: offset})
	})
}

// Revoke is RevokeToken: it returns once every replica refuses the token.
func (c *Client) Revoke(ctx context.Context, tokenID string) (
	*adminrpc.RevokeTokenResponse, error) {

	return call(ctx, c, func(ctx context.Context) (
		*adminrpc.RevokeTokenResponse, error) {
		return c.rpc.RevokeToken(ctx,
			&adminrpc.RevokeTokenRequest{TokenId: tokenID})
	})
}

// Stats is GetStats.
func (c *Client) Stats(ctx context.Context, from, to string) (
	*adminrpc.GetStatsResponse, error) {

	return call(ctx, c, func(ctx context.Context) (
		*adminrpc.GetStatsResponse, error) {
		return c.rpc.GetStats(ctx, &adminrpc.GetStatsRequest{From: from,
			To: to})
	})
}
