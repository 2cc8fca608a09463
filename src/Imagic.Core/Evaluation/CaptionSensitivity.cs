using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.World;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Evaluation;

/// <summary>
/// At one timestep: the denoising loss of scenes with their canonical caption, and how much it rises, in
/// percent, when the caption names one attribute wrongly (or is empty). A rise near zero means the model
/// ignores that word at that noise level.
/// </summary>
public sealed record CaptionSensitivityRow(int Timestep, double Loss, IReadOnlyDictionary<string, double> IncreasePercent);

/// <summary>
/// Which caption words a shapes-world model uses, and at which noise levels: a diagnosis that needs no
/// sampling, so it also works on checkpoints early in training.
/// </summary>
/// <remarks>
/// This is how the bundled model's position failure was found: v1's loss did not change at any timestep
/// when the caption named the wrong grid cell, while a wrong colour raised it by 59 % at t = 800.
/// </remarks>
public static class CaptionSensitivity
{
    public static readonly int[] DefaultTimesteps = { 100, 300, 500, 700, 800, 900, 950, 990 };

    /// <summary>The columns of <see cref="CaptionSensitivityRow.IncreasePercent"/>: each primary attribute, the background and "empty".</summary>
    public static readonly string[] Columns = { "colour", "shape", "size", "position", "pose", "background", "empty" };

    static readonly SceneAttribute[] Attributes =
    {
        SceneAttribute.Color, SceneAttribute.Shape, SceneAttribute.Size, SceneAttribute.Position, SceneAttribute.Pose, SceneAttribute.Background,
    };

    /// <param name="scenes">Random scenes to average over (each compared with itself under every caption).</param>
    public static IReadOnlyList<CaptionSensitivityRow> Measure(StableDiffusionPipeline pipe, int scenes = 128, long seed = 0,
        IReadOnlyList<int>? timesteps = null, int batchSize = 32)
    {
        var world = ModelEvaluator.RequireShapesModel(pipe, "Caption sensitivity");
        timesteps ??= DefaultTimesteps;
        var ddpm = new DdpmScheduler(pipe.SchedulerConfig);
        var rng = new WorldRandom(seed + 1);
        // The scenes of the model's own world (v2's keep their unnamed detail under every caption).
        var all = new SceneSampler(seed, version: world).Next(scenes);

        // Per caption kind, per scene: the caption, or null when the scene has no valid other value.
        var captions = new List<string?[]> { all.Select(Captioner.Canonical).ToArray() };
        foreach (var attribute in Attributes)
            captions.Add(all.Select(s => EditSampler.ValidEdits(s, attribute) is { Count: > 0 } edits
                ? Captioner.Canonical(s.Apply(rng.Pick(edits))) : null).ToArray());
        captions.Add(all.Select(_ => (string?)"").ToArray());

        // losses[kind][timestep][scene]
        var losses = captions.Select(_ => timesteps.Select(_ => new double[all.Count]).ToArray()).ToArray();
        using var noGrad = torch.no_grad();
        for (int start = 0; start < all.Count; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var batch = all.Skip(start).Take(batchSize).ToList();
            var x0 = pipe.EncodeImage(ModelEvaluator.Render(batch, pipe.DefaultResolution));
            var contexts = captions.Select(kind => pipe.EncodePrompts(batch.Select((s, i) => kind[start + i] ?? "").ToList())).ToList();
            for (int ti = 0; ti < timesteps.Count; ti++)
            {
                var (xt, t, target) = Noised(ddpm, x0, timesteps[ti], seed, start);
                for (int k = 0; k < captions.Count; k++)
                {
                    var perScene = (pipe.UNet.Forward(xt, t, contexts[k]) - target).Squared().mean(new long[] { 1, 2, 3 }).data<float>().ToArray();
                    for (int i = 0; i < batch.Count; i++) losses[k][ti][start + i] = perScene[i];
                }
            }
        }

        var rows = new List<CaptionSensitivityRow>();
        for (int ti = 0; ti < timesteps.Count; ti++)
        {
            double right = losses[0][ti].Average();
            var increase = new Dictionary<string, double>();
            for (int k = 1; k < captions.Count; k++)
            {
                var used = Enumerable.Range(0, all.Count).Where(i => captions[k][i] is not null).ToList();
                double wrong = used.Count == 0 ? double.NaN : used.Average(i => losses[k][ti][i] - losses[0][ti][i]);
                double baseline = used.Count == 0 ? double.NaN : used.Average(i => losses[0][ti][i]);
                increase[Columns[k - 1]] = 100 * wrong / baseline;
            }
            rows.Add(new CaptionSensitivityRow(timesteps[ti], right, increase));
        }
        return rows;
    }

    /// <summary>
    /// The batch <paramref name="x0"/> noised to <paramref name="timestep"/> with noise fixed by (seed, timestep, first index),
    /// and the model's regression target: the same noise for every caption or scene variant compared on it.
    /// </summary>
    internal static (Tensor Xt, Tensor T, Tensor Target) Noised(DdpmScheduler ddpm, Tensor x0, int timestep, long seed, int start)
    {
        using var generator = new Generator((ulong)(seed * 1009 + timestep * 7919 + start), x0.device);
        var noise = torch.randn(x0.shape, dtype: x0.dtype, device: x0.device, generator: generator);
        using var tValue = ((long)timestep).ToScalar();
        var t = torch.full(new long[] { x0.shape[0] }, tValue, dtype: ScalarType.Int64, device: x0.device);
        return (ddpm.AddNoise(x0, noise, t), t, ddpm.Target(ddpm.Config.PredictionType, x0, noise, t));
    }
}
