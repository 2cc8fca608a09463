using Imagic.Editing;
using Imagic.Imaging;
using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Editing;

/// <summary>
/// Stages A and B as units on tiny-sd1: a stage rebuilt from its exported state takes exactly the steps an
/// uninterrupted one takes, and the state names what the stage trains.
/// </summary>
public class TrainingStageTests
{
    static readonly ImagicOptions Options = EditTestData.FastOptions with
    {
        EmbeddingSteps = 6, FinetuneSteps = 6, EmbeddingBatch = 2, FinetuneBatch = 2, TimestepSampling = TimestepStrategy.Stratified,
    };

    static (StableDiffusionPipeline Pipe, DdpmScheduler Ddpm, Tensor Latents, Tensor Text) Inputs()
    {
        var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var image = ImageTensors.ToTensor(ImageIO.Load(EditTestData.WriteInputImage(TestPaths.NewTempDir())));
        return (pipe, new DdpmScheduler(pipe.SchedulerConfig), pipe.EncodeImage(image), pipe.EncodePrompt("a photo of a dog standing"));
    }

    static List<double> Steps(TrainingStage stage, int count) =>
        Enumerable.Range(0, count).Select(_ => stage.TakeStep()).ToList();

    [Fact]
    public void EmbeddingOptimization_RebuiltFromItsState_ContinuesBitwiseLikeAnUninterruptedRun()
    {
        var (pipe, ddpm, latents, text) = Inputs();
        using (pipe)
        {
            using var straight = new EmbeddingOptimization(pipe.UNet, ddpm, latents, text, Options, seed: 11);
            var straightLosses = Steps(straight, 6);

            using var first = new EmbeddingOptimization(pipe.UNet, ddpm, latents, text, Options, seed: 11);
            var losses = Steps(first, 3);
            var state = first.ExportState();
            Assert.Contains("e_opt", state.Keys);
            Assert.Contains("adam.m.e_opt", state.Keys);
            using var resumed = new EmbeddingOptimization(pipe.UNet, ddpm, latents, text, Options, seed: 999, state: state);
            Assert.Equal(3, resumed.Step);
            losses.AddRange(Steps(resumed, 3));

            Assert.Equal(straightLosses, losses);
            Assert.True(Tensors.Identical(straight.Embedding, resumed.Embedding));
        }
    }

    [Theory]
    [InlineData(FinetuneMethod.Full, "unet.")]
    [InlineData(FinetuneMethod.Lora, "lora.")]
    public void ModelFineTuning_RebuiltFromItsState_ContinuesBitwiseLikeAnUninterruptedRun(FinetuneMethod method, string trainedPrefix)
    {
        var options = Options with { FinetuneMethod = method, LoraLearningRate = 1e-2 };
        var (straightPipe, ddpm, latents, text) = Inputs();
        using var resumedPipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var uncond = straightPipe.EncodePrompt("");
        using (straightPipe)
        {
            using (var straight = new ModelFineTuning(straightPipe.UNet, ddpm, latents, text, uncond, options, seed: 5, loraSeed: 6))
            {
                Steps(straight, 6);
                straight.Complete();
            }

            Dictionary<string, Tensor> state;
            using (var first = new ModelFineTuning(resumedPipe.UNet, ddpm, latents, text, uncond, options, seed: 5, loraSeed: 6))
            {
                Steps(first, 3);
                state = first.ExportState().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            }
            // Disposing the first stage left the UNet as it was before stage B for LoRA (adapters dropped) and as
            // trained for full fine-tuning; either way the state alone must carry the run on.
            Assert.Contains(state.Keys, k => k.StartsWith(trainedPrefix, StringComparison.Ordinal));
            using (var resumed = new ModelFineTuning(resumedPipe.UNet, ddpm, latents, text, uncond, options, seed: 5, loraSeed: 77, state: state))
            {
                Steps(resumed, 3);
                resumed.Complete();
            }

            var a = straightPipe.UNet.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in resumedPipe.UNet.named_parameters())
                Assert.True(Tensors.Identical(a[name], p), $"{name} differs after resuming");
        }
    }

    [Fact]
    public void ModelFineTuning_StateOfAnotherMethod_FailsNamingTheMissingKey()
    {
        var (pipe, ddpm, latents, text) = Inputs();
        using (pipe)
        using (var uncond = pipe.EncodePrompt(""))
        {
            Dictionary<string, Tensor> state;
            using (var full = new ModelFineTuning(pipe.UNet, ddpm, latents, text, uncond, Options, seed: 5, loraSeed: 6))
            {
                full.TakeStep();
                state = full.ExportState().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            }

            var e = Assert.Throws<ImagicException>(() =>
                new ModelFineTuning(pipe.UNet, ddpm, latents, text, uncond, Options with { FinetuneMethod = FinetuneMethod.Lora }, 5, 6, state));
            Assert.Contains("lora.", e.Message);
            Assert.All(pipe.UNet.parameters(), p => Assert.False(p.requires_grad));
        }
    }

    [Fact]
    public void StratifiedTimesteps_TakeOneFromEachStratum()
    {
        using var generator = new Generator(3, torch.CPU);
        for (int draw = 0; draw < 50; draw++)
        {
            var t = TimestepSampling.StratifiedUniform.Draw(4, 1000, generator).data<long>().ToArray();
            for (int k = 0; k < 4; k++)
                Assert.InRange(t[k], k * 250, k * 250 + 249);
        }
    }
}
