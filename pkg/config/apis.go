package config

// Route types of the client APIs beside chat and completions (Kong
// Enterprise's names): OpenAI's Responses API and its embeddings.
const (
	RouteResponses  = "llm/v1/responses"
	RouteEmbeddings = "llm/v1/embeddings"
)

// genaiCategories are the genai_category values accepted per route type:
// Kong's default text/generation, and text/embeddings for embeddings.
func genaiCategoryOK(routeType, category string) bool {
	switch category {
	case "", "text/generation":
		return routeType != RouteEmbeddings || category == ""
	case "text/embeddings":
		return routeType == RouteEmbeddings
	}
	return false
}
