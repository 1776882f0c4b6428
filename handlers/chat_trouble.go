package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/mattermost"
)

// chatTrouble says briefly, and truly, why a call to Mattermost failed:
// no answer in time is not the same as an error answer, and a refused bot
// token is for an administrator, not for the person to retry. The slash
// command and the agent API both word their failures with it.
func chatTrouble(err error) string {
	status := lastStatus(err)
	switch {
	case errors.Is(err, mattermost.ErrUnauthorized):
		return "Mattermost refused Countersign's bot token; tell an administrator"
	case errors.Is(err, models.ErrForbidden):
		return "Countersign's bot may not read that"
	case errors.Is(err, models.ErrNotFound):
		return "not found"
	case status == http.StatusTooManyRequests:
		return "Mattermost is limiting Countersign's requests (HTTP 429)"
	case status >= 500:
		return fmt.Sprintf("Mattermost answered with an error (HTTP %d)", status)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, mattermost.ErrUnavailable):
		return "Mattermost did not answer in time"
	}
	return "Mattermost answered with an error"
}

// chatAdvice says what would make the failed call work: retrying only
// helps when Mattermost did not answer or answered with a server error;
// a bot that may not read the channel needs to be added to it, a refused
// token needs an administrator.
func chatAdvice(err error) string {
	switch {
	case errors.Is(err, mattermost.ErrUnauthorized):
		return "an administrator must renew the bot's token first"
	case errors.Is(err, models.ErrForbidden):
		return "add Countersign's bot to this channel (/invite it) and run the command again"
	}
	return "try again in a moment"
}

// chatTroubleStatus is the HTTP status the agent API answers for a failed
// call to Mattermost: 502 when Mattermost answered with an error or
// refused the bot (retrying will not help until someone acts), 503 when
// it did not answer (it may later).
func chatTroubleStatus(err error) int {
	if errors.Is(err, mattermost.ErrUnauthorized) || lastStatus(err) >= 500 {
		return http.StatusBadGateway
	}
	return http.StatusServiceUnavailable
}

// lastStatus is the HTTP status of Mattermost's last answer to the failed
// call, also when the caller's deadline ended a series of retries; 0 when
// no answer came.
func lastStatus(err error) int {
	var me *mattermost.Error
	if errors.As(err, &me) {
		return me.Status
	}
	var st interface{ Last() *mattermost.Error }
	if errors.As(err, &st) {
		return st.Last().Status
	}
	return 0
}
