package manager

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/store"
)

func decodeObject(path string, data []byte) (model.Object, error) {
	ref, err := model.ParsePath(path)
	if err != nil {
		return nil, err
	}
	o := model.NewObject(ref.Kind)
	if o == nil {
		return nil, fmt.Errorf("%s: no object kind", path)
	}
	if err := json.Unmarshal(data, o); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}

func encodeInventory(o inventory.Object) ([]byte, error) { return inventory.Encode(o) }

func decodeInventory(data []byte) (inventory.Object, error) { return inventory.Decode(data) }

func inventoryKey(k inventory.Key) string {
	return store.InventoryKey(k.Cluster, string(k.Kind), k.Namespace, k.Name)
}

// parseInventoryKey is the inverse of inventoryKey.
func parseInventoryKey(key string) (inventory.Key, bool) {
	parts := strings.SplitN(strings.TrimPrefix(key, store.InventoryPrefix), "/", 4)
	if len(parts) != 4 {
		return inventory.Key{}, false
	}
	return inventory.Key{Cluster: parts[0], Kind: inventory.Kind(parts[1]), Namespace: parts[2], Name: parts[3]}, true
}
