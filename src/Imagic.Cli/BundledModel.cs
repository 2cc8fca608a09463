namespace Imagic.Cli;

/// <summary>Finds the shapes model that ships with the project, used when --model is omitted.</summary>
internal static class BundledModel
{
    public const string RelativePath = "models/shapes";

    /// <summary>
    /// The CLIP BPE files of the bundled model (OpenAI's vocabulary, the one every SD 1.x/2.x model uses), for single-file
    /// checkpoints, which carry none; null when the bundled model is not found.
    /// </summary>
    public static string? TokenizerDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, RelativePath, "tokenizer");
            if (File.Exists(Path.Combine(candidate, "vocab.json")))
                return candidate;
        }
        return null;
    }

    /// <summary>$IMAGIC_MODEL, else models/shapes beside the executable (copied there by the build), else in a parent folder.</summary>
    public static string Resolve()
    {
        if (Environment.GetEnvironmentVariable("IMAGIC_MODEL") is { Length: > 0 } env)
            return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, RelativePath);
            if (File.Exists(Path.Combine(candidate, "model_index.json")))
                return candidate;
        }
        throw new ImagicException($"No --model given and the bundled model ({RelativePath}) was not found next to the program. " +
            "Pass --model with a diffusers model folder or a single-file .safetensors checkpoint, or set IMAGIC_MODEL.");
    }
}
