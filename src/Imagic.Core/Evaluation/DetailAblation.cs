using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.World;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Evaluation;

/// <summary>
/// The denoising loss with the canonical caption, per timestep, on scenes with one kind of unnamed detail
/// switched off (<see cref="DetailAblation.Variants"/>).
/// </summary>
public sealed record DetailAblationRow(string Variant, IReadOnlyDictionary<int, double> Loss);

/// <summary>
/// Which of world v2's unnamed detail costs a model most: the same scenes, noise and captions, with the
/// background texture, the gradient, the clutter or the objects' detail switched off in turn. No retraining and
/// no sampling, so it also works on checkpoints early in training.
/// </summary>
/// <remarks>
/// A caption cannot predict unnamed detail, so part of the loss it causes cannot be learned; when one kind of
/// detail carries most of the loss, most of every training step's gradient is about it. The model still saw
/// that detail in training, so a row without it is slightly out of its distribution: read the differences
/// between rows, not the rows as what a model trained without the detail would reach.
/// </remarks>
public static class DetailAblation
{
    public static readonly int[] DefaultTimesteps = { 100, 300, 500, 800, 950 };

    /// <summary>The variants, in order: the scenes as sampled, then one kind of detail switched off each, then all of it.</summary>
    public static readonly IReadOnlyList<(string Name, Func<Scene, Scene> Apply)> Variants = new (string, Func<Scene, Scene>)[]
    {
        ("as sampled", s => s),
        ("no texture", s => s with { Detail = s.Detail! with { TextureAmplitude = 0 } }),
        ("no gradient", s => s with { Detail = s.Detail! with { GradientAmplitude = 0 } }),
        ("no clutter", s => s with { Detail = s.Detail! with { Clutter = null } }),
        ("no object detail", WithoutObjectDetail),
        ("no detail at all", s => WithoutObjectDetail(s) with { Detail = s.Detail! with { TextureAmplitude = 0, GradientAmplitude = 0, Clutter = null } }),
    };

    static Scene WithoutObjectDetail(Scene s) => s with
    {
        Primary = s.Primary with { Detail = ObjectDetail.None },
        Secondary = s.Secondary is null ? null : s.Secondary with { Detail = ObjectDetail.None },
    };

    /// <summary>Fails with a one-line message unless the pipeline is a world-v2 shapes model (world v1 has no unnamed detail).</summary>
    public static void CheckModel(StableDiffusionPipeline pipe)
    {
        if (ModelEvaluator.RequireShapesModel(pipe, "The detail ablation") != WorldVersion.V2)
            throw new ImagicException($"The detail ablation needs a world-v2 model (64x64), as world v1 has no unnamed detail; {pipe.ModelDir} is a 32x32 world-v1 model.");
    }

    /// <param name="scenes">Random world-v2 scenes to average over; every variant sees the same scenes and noise.</param>
    public static IReadOnlyList<DetailAblationRow> Measure(StableDiffusionPipeline pipe, int scenes = 128, long seed = 0,
        IReadOnlyList<int>? timesteps = null, int batchSize = 32)
    {
        CheckModel(pipe);
        timesteps ??= DefaultTimesteps;
        var ddpm = new DdpmScheduler(pipe.SchedulerConfig);
        var all = new SceneSampler(seed, version: WorldVersion.V2).Next(scenes);
        using var noGrad = torch.no_grad();
        var rows = new List<DetailAblationRow>();
        foreach (var (name, apply) in Variants)
        {
            var sum = new double[timesteps.Count];
            for (int start = 0; start < all.Count; start += batchSize)
            {
                using var scope = torch.NewDisposeScope();
                var batch = all.Skip(start).Take(batchSize).Select(apply).ToList();
                var x0 = pipe.EncodeImage(ModelEvaluator.Render(batch, pipe.DefaultResolution));
                var context = pipe.EncodePrompts(batch.Select(Captioner.Canonical).ToList());
                for (int ti = 0; ti < timesteps.Count; ti++)
                {
                    // The same noise for every variant: the rows differ only by the detail.
                    var (xt, t, target) = CaptionSensitivity.Noised(ddpm, x0, timesteps[ti], seed, start);
                    var loss = (pipe.UNet.Forward(xt, t, context) - target).Squared().mean();
                    sum[ti] += loss.item<float>() * batch.Count;
                }
            }
            rows.Add(new DetailAblationRow(name, timesteps.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => sum[p.i] / all.Count)));
        }
        return rows;
    }
}
