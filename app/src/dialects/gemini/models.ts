/** A model as Gemini's models.list and models.get describe one (Gemini CLI and genai read `name`). */
export function geminiModel(id: string, channel: string) {
  return {
    name: `models/${id}`,
    baseModelId: id,
    version: channel,
    displayName: id,
    supportedGenerationMethods: ['generateContent', 'streamGenerateContent', 'countTokens'],
  };
}
