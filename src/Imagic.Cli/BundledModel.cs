namespace Imagic.Cli;

/// <summary>Finds the shapes model that ships with the project, used when --model is omitted.</summary>
internal static class BundledModel
{
    public const string RelativePath = "models/shapes";

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
            "Pass --model with a diffusers model folder, or set IMAGIC_MODEL.");
    }
}
