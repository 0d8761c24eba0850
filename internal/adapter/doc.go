// Package adapter owns a cluster's live inventory: it watches the
// cluster's API server with client-go informers (Nodes, Namespaces,
// Services, Pods, Ingresses, Gateway API Gateways, Antrea Egresses,
// ExternalIPPools and IPPools, in whichever API versions the cluster
// serves, starting informers for CRDs installed later), and keeps the
// manager's copy equal to it: after every informer has synced it sends
// what differs from the manager's digest as one complete synchronisation,
// then batched deltas, each conditioned on the inventory revision it
// last wrote; any conflict or disconnection triggers a new digest-based
// synchronisation. It never sends a partial view as complete. It also
// heartbeats, so the manager knows whether the cluster is Up, Down or
// Unknown.
//
// The manager is reached through a Sink: over HTTPS with the cluster's
// client certificate (HTTPSink, on internal/client; kordon adapter), or
// in process (serve.LocalSink; kordon serve --cluster). What it sends is
// shaped by internal/wire. It never imports the manager (internal/arch
// holds that): the manager is a peer behind an API, even in process.
package adapter
