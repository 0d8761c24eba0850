package console

import (
	"net/http"
)

type findingView struct {
	Code     string   `json:"code"`
	Severity string   `json:"severity"`
	Message  string   `json:"message"`
	Objects  []string `json:"objects"`
	Fix      string   `json:"fix"`
	Count    int      `json:"count"`
}

func (c *Console) advisor(k *caller, v *view, _ *http.Request) error {
	v.Title, v.Nav, v.Live = "Advisor", "advisor", "config,membership"
	fs, err := listAll[findingView](k, "/policy/api/v1/kordon/advise", 100000)
	if err != nil {
		return err
	}
	v.Data = fs
	return nil
}
