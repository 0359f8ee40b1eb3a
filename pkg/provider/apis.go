package provider

// NativeAPI is implemented by a driver whose upstream serves a client API
// besides chat in OpenAI's own format (OpenAI's Responses and embeddings
// endpoints, Azure's): the proxy then applies its policy to the client's
// request as it is and the driver's Prepare, told the route type by
// Call.Plugin.RouteType, returns that endpoint with a nil Transport, so
// that request and answer are relayed byte for byte. A driver that does not
// implement it (or answers false) is reached through the chat hub: a
// Responses request is translated to chat and its answer back, statelessly.
type NativeAPI interface {
	ServesNatively(routeType string) bool
}

// Native reports whether d serves routeType in OpenAI's own format.
func Native(d Driver, routeType string) bool {
	n, ok := d.(NativeAPI)
	return ok && n.ServesNatively(routeType)
}
