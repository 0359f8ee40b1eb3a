package bedrockstub

// Env is the environment that points a process's AWS SDK at this server
// (listening at endpoint): the Bedrock runtime endpoint, the server's keys
// as the default chain's credentials, one attempt (the SDK's own retries
// would hide the stub's faults from a test), and no other source of
// credentials or config.
func (s *Server) Env(endpoint string) []string {
	o := s.Options()
	return []string{
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + endpoint,
		"AWS_ACCESS_KEY_ID=" + o.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + o.SecretAccessKey,
		"AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
	}
}
