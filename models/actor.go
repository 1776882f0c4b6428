package models

// ActorType says what kind of identity acted.
type ActorType string

// The actor types.
const (
	// ActorHuman is a person (Mattermost user or IdP subject).
	ActorHuman ActorType = "human"
	// ActorAgent is a non-human identity: a bot account acting for a sponsor.
	ActorAgent ActorType = "agent"
	// ActorSystem is Countersign itself (expiry, seeding, maintenance).
	ActorSystem ActorType = "system"
)

// Valid reports whether t is a known actor type.
func (t ActorType) Valid() bool { return t == ActorHuman || t == ActorAgent || t == ActorSystem }

// Actor identifies who did something. For an agent, Sponsor names the human
// accountable for it.
type Actor struct {
	Type    ActorType
	ID      string
	Display string
	// SponsorID and SponsorName are set for agents only.
	SponsorID   string
	SponsorName string
}

// SystemActor is the actor for changes Countersign makes on its own.
func SystemActor(reason string) Actor {
	return Actor{Type: ActorSystem, ID: "countersign", Display: reason}
}

// Validate checks that the actor is usable as a requester or approver.
func (a Actor) Validate(field string) error {
	if !a.Type.Valid() {
		return Invalid(field+".type", "must be human, agent or system")
	}
	if a.ID == "" {
		return Invalid(field+".id", "is required")
	}
	if a.Type != ActorAgent && (a.SponsorID != "" || a.SponsorName != "") {
		return Invalid(field+".sponsor", "only agents have a sponsor")
	}
	if a.Type == ActorAgent && a.SponsorID == "" {
		return Invalid(field+".sponsor", "an agent needs a human sponsor")
	}
	return nil
}
