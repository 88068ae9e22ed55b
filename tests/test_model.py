import torch
import torch.nn.functional as F

from mnist_demo.recognition.model import ModelConfig, SmallCNN, count_parameters


def test_lesson_model_has_206922_parameters():
    assert count_parameters(SmallCNN()) == 206_922


def test_forward_returns_logits_for_each_class():
    logits = SmallCNN().eval()(torch.randn(5, 1, 28, 28))
    assert logits.shape == (5, 10)
    # Logits, not log-probabilities: their exponentials do not sum to one.
    assert not torch.allclose(logits.exp().sum(1), torch.ones(5), atol=1e-3)


def test_classifier_input_size_is_derived_from_the_layers():
    model = SmallCNN(ModelConfig(conv_channels=(8, 16, 24), image_size=32))
    assert model.classifier[1].in_features == 24 * 4 * 4
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_batch_norm_option_adds_a_norm_after_each_convolution():
    model = SmallCNN(ModelConfig(batch_norm=True))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert [norm.num_features for norm in norms] == [16, 32]
    assert model.eval()(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_pool_then_relu_equals_the_lessons_relu_then_pool():
    torch.manual_seed(0)
    x = torch.randn(4, 16, 28, 28, requires_grad=True)
    lesson = F.max_pool2d(F.relu(x), 2)
    ours = F.relu(F.max_pool2d(x, 2))
    assert torch.equal(lesson, ours)
    (grad_lesson,) = torch.autograd.grad(lesson.sum(), x)
    (grad_ours,) = torch.autograd.grad(ours.sum(), x)
    assert torch.equal(grad_lesson, grad_ours)


def test_one_optimiser_step_lowers_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = SmallCNN()
    model.eval()  # No dropout, so the two losses compare the same function.
    images, labels = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = F.cross_entropy(model(images), labels)
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    after = F.cross_entropy(model(images), labels)
    assert after < before
