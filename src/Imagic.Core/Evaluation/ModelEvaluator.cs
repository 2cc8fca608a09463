using System.Text.Json;
using Imagic.Imaging;
using Imagic.Pipelines;
using Imagic.World;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Evaluation;

/// <summary>Per-attribute accuracy of a text-to-image model on the shapes world.</summary>
public sealed record AttributeAccuracy(int Samples, double Color, double Shape, double Size, double Position, double Pose,
    double Background, double AllPrimary)
{
    /// <summary>
    /// The wrong readings of each attribute (colour, shape, size, position, pose, background), most
    /// frequent first: what a model draws instead of what its caption says. "none" = no object found.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Confusion>> Confusions { get; init; } =
        new Dictionary<string, IReadOnlyList<Confusion>>();

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>One kind of mistake: the caption said <paramref name="Expected"/>, the detector read <paramref name="Detected"/>.</summary>
public sealed record Confusion(string Expected, string Detected, int Count);

/// <summary>
/// <c>imagic eval-model</c>: draws random scenes, generates an image from each scene's canonical caption,
/// and asks the world's detector whether the primary object and the background came out as described.
/// </summary>
public static class ModelEvaluator
{
    public sealed record Options(int Samples = 200, double GuidanceScale = 5, int Steps = 25, long Seed = 0, int BatchSize = 25,
        double GuidanceRescale = 0);

    public static (AttributeAccuracy Accuracy, IReadOnlyList<(Scene Scene, SceneImage Image)> Samples) Evaluate(
        StableDiffusionPipeline pipe, Options options, IProgress<StepProgress>? progress = null, CancellationToken cancellation = default)
    {
        var world = RequireShapesModel(pipe, "eval-model");
        int size = pipe.DefaultResolution;
        var sampler = new SceneSampler(options.Seed, version: world);
        var scenes = sampler.Next(options.Samples);
        var results = new List<(Scene, SceneImage)>();
        var uncond = pipe.EncodePrompt("");
        var sampling = new SamplingOptions { Steps = options.Steps, GuidanceScale = options.GuidanceScale, GuidanceRescale = options.GuidanceRescale };
        using var generator = new Generator((ulong)options.Seed + 17, pipe.Device);
        for (int start = 0; start < scenes.Count; start += options.BatchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var batch = scenes.Skip(start).Take(options.BatchSize).ToList();
            var cond = pipe.EncodePrompts(batch.Select(Captioner.Canonical).ToList());
            var noise = pipe.InitialNoise(size, size, generator, batch.Count);
            var latents = pipe.Sample(cond, uncond, noise, sampling, generator);
            var images = pipe.DecodeLatents(latents);
            latents.Dispose();
            for (int i = 0; i < batch.Count; i++)
            {
                results.Add((batch[i], SceneImage.From(ImageTensors.ToImage(images[i]))));
            }
            progress?.Report(new StepProgress("eval-model", Math.Min(start + options.BatchSize, scenes.Count), scenes.Count));
        }
        return (Score(results, world), results);
    }

    /// <summary>
    /// The ceiling that the VAE sets: the same scenes rendered, encoded, decoded (posterior mean) and read
    /// back by the detector. A generated image cannot score better than the autoencoder can reproduce.
    /// </summary>
    public static AttributeAccuracy EvaluateReconstruction(StableDiffusionPipeline pipe, Options options)
    {
        var world = RequireShapesModel(pipe, "The VAE round trip");
        var scenes = new SceneSampler(options.Seed, version: world).Next(options.Samples);
        var results = new List<(Scene, SceneImage)>();
        foreach (var batch in scenes.Chunk(options.BatchSize))
        {
            using var scope = torch.NewDisposeScope();
            var decoded = pipe.DecodeLatents(pipe.EncodeImage(Render(batch, pipe.DefaultResolution)));
            for (int i = 0; i < batch.Length; i++)
                results.Add((batch[i], SceneImage.From(ImageTensors.ToImage(decoded[i]))));
        }
        return Score(results, world);
    }

    /// <summary>
    /// The world a shapes model draws, by its resolution: v1 at 32×32 (models v1–v5), v2 at 64×64 (model v6 on).
    /// Fails with a clear message for any other resolution.
    /// </summary>
    internal static WorldVersion RequireShapesModel(StableDiffusionPipeline pipe, string what) => pipe.DefaultResolution switch
    {
        32 => WorldVersion.V1,
        64 => WorldVersion.V2,
        _ => throw new ImagicException($"{what} needs a shapes-world model (32x32 world-v1 or 64x64 world-v2 images); " +
            $"{pipe.ModelDir} makes {pipe.DefaultResolution}x{pipe.DefaultResolution}."),
    };

    /// <summary>The scenes rendered as a [B, 3, size, size] batch in [-1, 1] (default 32), the pipeline's image convention.</summary>
    internal static Tensor Render(IReadOnlyList<Scene> scenes, int size = 32) =>
        torch.stack(scenes.Select(s => ImageTensors.ToTensor(SceneRenderer.Render(s, size).ToImage())).ToArray()).squeeze(1);

    internal static AttributeAccuracy Score(IReadOnlyList<(Scene Scene, SceneImage Image)> results, WorldVersion world)
    {
        var read = results.Select(r => (r.Scene, Detection: SceneDetector.Detect(r.Image, world))).ToList();
        var matches = read.Select(r => DetectionMatch.Compare(r.Scene, r.Detection)).ToList();
        double Rate(Func<DetectionMatch, bool> f) => matches.Count(f) / (double)matches.Count;
        return new AttributeAccuracy(matches.Count,
            Rate(m => m.Primary.Color), Rate(m => m.Primary.Shape), Rate(m => m.Primary.Size),
            Rate(m => m.Primary.Position), Rate(m => m.Primary.Pose), Rate(m => m.Background), Rate(m => m.Primary.All && m.Background))
        {
            Confusions = Confusions(read.Zip(matches, (r, m) => (r.Scene, r.Detection, m)).ToList()),
        };
    }

    static Dictionary<string, IReadOnlyList<Confusion>> Confusions(IReadOnlyList<(Scene Scene, Detection Detection, DetectionMatch Match)> read)
    {
        // (expected, detected) pairs of the primary object per attribute; "none" when no object was assigned.
        var attributes = new (string Name, Func<SceneObject, string> Value)[]
        {
            ("colour", o => o.Color.ToString()), ("shape", o => o.Shape.ToString()), ("size", o => o.Size.ToString()),
            ("position", o => o.Position.ToString()), ("pose", o => o.Pose.ToString()),
        };
        var confusions = new Dictionary<string, IReadOnlyList<Confusion>>();
        foreach (var (name, value) in attributes)
            confusions[name] = Tally(read.Select(r => (value(r.Scene.Primary), r.Match.Primary.Detected is { } d ? value(d.ToSceneObject()) : "none")));
        confusions["background"] = Tally(read.Select(r => (r.Scene.Background.ToString(), r.Detection.Background.ToString())));
        return confusions;
    }

    static IReadOnlyList<Confusion> Tally(IEnumerable<(string Expected, string Detected)> pairs) =>
        pairs.Where(p => p.Expected != p.Detected)
            .GroupBy(p => p)
            .Select(g => new Confusion(g.Key.Expected, g.Key.Detected, g.Count()))
            .OrderByDescending(c => c.Count).ThenBy(c => c.Expected, StringComparer.Ordinal).ThenBy(c => c.Detected, StringComparer.Ordinal)
            .ToList();
}
